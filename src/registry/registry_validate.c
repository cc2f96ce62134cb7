/*
 * registry_validate.c — the registry's input rules: model names, version
 * numbers, alias names (MLflow's reserved forms included), tags, stages.
 * Every failure is KEEL_EINVAL naming the offending value.
 */
#include "registry_internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const stages[] = {"None", "Staging", "Production", "Archived"};

int registry_check_model_name(const char *name, keel_err *err)
{
    if (name == NULL || name[0] == '\0')
        return keel_errf(err, KEEL_EINVAL, "registered model name must not be empty");
    size_t n = strnlen(name, KEEL_MODEL_NAME_MAX + 1);
    if (n > KEEL_MODEL_NAME_MAX)
        return keel_errf(err, KEEL_EINVAL,
                         "registered model name '%.40s…' is longer than %d characters", name,
                         KEEL_MODEL_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '/')
            return keel_errf(err, KEEL_EINVAL,
                             "invalid registered model name '%s': '/' is not allowed (names "
                             "appear in models:/NAME/VERSION URIs)", name);
        if (c < 0x20 || c == 0x7f)
            return keel_errf(err, KEEL_EINVAL,
                             "invalid registered model name: control character at position %zu",
                             i + 1);
    }
    return KEEL_OK;
}

int keel_model_name_check(const char *name, keel_err *err)
{
    return registry_check_model_name(name, err);
}

int registry_check_version(const char *name, int64_t version, keel_err *err)
{
    if (version < 1)
        return keel_errf(err, KEEL_EINVAL,
                         "model version must be a positive integer, got %lld (model '%s')",
                         (long long)version, name != NULL ? name : "");
    return KEEL_OK;
}

static bool alias_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

int registry_check_alias(const char *alias, keel_err *err)
{
    if (alias == NULL || alias[0] == '\0')
        return keel_errf(err, KEEL_EINVAL, "registered model alias name must not be empty");
    size_t n = strnlen(alias, REGISTRY_ALIAS_MAX + 1);
    if (n > REGISTRY_ALIAS_MAX)
        return keel_errf(err, KEEL_EINVAL, "alias name '%.40s…' is longer than %d characters",
                         alias, REGISTRY_ALIAS_MAX);
    for (size_t i = 0; i < n; i++) {
        if (!alias_char_ok(alias[i]))
            return keel_errf(err, KEEL_EINVAL,
                             "invalid alias name '%s': names may only contain letters, digits, "
                             "'_' and '-'", alias);
    }
    if (strcasecmp(alias, "latest") == 0)
        return keel_errf(err, KEEL_EINVAL, "alias name '%s' is reserved (\"latest\", any case)",
                         alias);
    bool version_form = n >= 2 && (alias[0] == 'v' || alias[0] == 'V');
    for (size_t i = 1; version_form && i < n; i++)
        version_form = alias[i] >= '0' && alias[i] <= '9';
    if (version_form)
        return keel_errf(err, KEEL_EINVAL,
                         "alias name '%s' is reserved: v<number> names a version", alias);
    return KEEL_OK;
}

int registry_check_tag(const char *key, const char *value, keel_err *err)
{
    int rc = keel_validate_key("tag", key, err);
    if (rc != KEEL_OK)
        return rc;
    return registry_check_text("tag value", value, REGISTRY_TAG_VALUE_MAX, err);
}

int registry_check_text(const char *what, const char *text, size_t max, keel_err *err)
{
    if (text == NULL)
        return KEEL_OK;
    size_t n = strnlen(text, max + 1);
    if (n > max)
        return keel_errf(err, KEEL_EINVAL, "%s is longer than %zu characters", what, max);
    return KEEL_OK;
}

const char *registry_stage_canonical(const char *stage)
{
    if (stage == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++)
        if (strcasecmp(stage, stages[i]) == 0)
            return stages[i];
    return NULL;
}

const char *registry_actor(const char *actor)
{
    return actor != NULL && actor[0] != '\0' ? actor : "unknown";
}

const char *registry_i64(char buf[24], int64_t v)
{
    snprintf(buf, 24, "%lld", (long long)v);
    return buf;
}
