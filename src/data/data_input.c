/*
 * data_input.c — the whole bytes of one CSV input.
 *
 * A plain file is mmap'd read-only: the reader scans it twice (infer, then
 * convert) and releases pages behind itself with MADV_DONTNEED, so the
 * process holds the typed output plus a window of the file, not the file.
 * Files up to 32 MiB are mapped whole and kept instead.
 * Gzip input (magic 1f 8b, any number of members) is inflated into one heap
 * buffer, grown geometrically up to KEEL_CSV_MAX_INPUT.
 */
#include "data_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define KEEL_INPUT_SMALL ((size_t)32 << 20)

static bool is_gzip(const char *data, size_t len)
{
    return len >= 2 && (unsigned char)data[0] == 0x1f && (unsigned char)data[1] == 0x8b;
}

static int inflate_all(const char *name, const char *data, size_t len, keel__input *in,
                       keel_err *err)
{
    /* ISIZE (last 4 bytes) is the size mod 2^32 of the last member: a good
     * first guess for one-member files, never trusted beyond that. */
    size_t cap = len * 4 + 4096;
    if (len >= 18) {
        const unsigned char *t = (const unsigned char *)data + len - 4;
        size_t isize = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
        if (isize > 0 && isize / 1100 <= len)
            cap = isize + 1;
    }
    if (cap > KEEL_CSV_MAX_INPUT)
        cap = KEEL_CSV_MAX_INPUT;
    char *out = malloc(cap);
    if (out == NULL)
        return keel_errf(err, KEEL_ENOMEM, "%s: out of memory inflating gzip input", name);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 16) != Z_OK) {
        free(out);
        return keel_errf(err, KEEL_ENOMEM, "%s: cannot start zlib", name);
    }
    size_t used = 0, in_pos = 0;
    int rc = KEEL_OK;
    for (;;) {
        if (used == cap) {
            if (cap >= KEEL_CSV_MAX_INPUT) {
                rc = keel_errf(err, KEEL_ELIMIT, "%s: decompressed input over %zu bytes", name,
                               (size_t)KEEL_CSV_MAX_INPUT);
                break;
            }
            size_t ncap = cap * 2 > KEEL_CSV_MAX_INPUT ? KEEL_CSV_MAX_INPUT : cap * 2;
            char *grown = realloc(out, ncap);
            if (grown == NULL) {
                rc = keel_errf(err, KEEL_ENOMEM, "%s: out of memory inflating gzip input", name);
                break;
            }
            out = grown;
            cap = ncap;
        }
        size_t in_chunk = len - in_pos > (1u << 30) ? (1u << 30) : len - in_pos;
        size_t out_chunk = cap - used > (1u << 30) ? (1u << 30) : cap - used;
        z.next_in = (unsigned char *)(uintptr_t)(data + in_pos);
        z.avail_in = (uInt)in_chunk;
        z.next_out = (unsigned char *)out + used;
        z.avail_out = (uInt)out_chunk;
        int zr = inflate(&z, Z_NO_FLUSH);
        in_pos += in_chunk - z.avail_in;
        used += out_chunk - z.avail_out;
        if (zr == Z_STREAM_END) {
            /* Another member may follow (gzip files may be concatenated). */
            if (in_pos < len && is_gzip(data + in_pos, len - in_pos)) {
                inflateReset(&z);
                continue;
            }
            break;
        }
        if (zr == Z_BUF_ERROR) {  /* no progress possible: output space was there */
            rc = keel_errf(err, KEEL_EPARSE, "%s: %s gzip input", name,
                           in_pos == len ? "truncated" : "corrupt");
            break;
        }
        if (zr != Z_OK) {
            rc = keel_errf(err, KEEL_EPARSE, "%s: corrupt gzip input (%s)", name,
                           z.msg != NULL ? z.msg : "inflate failed");
            break;
        }
    }
    inflateEnd(&z);
    if (rc != KEEL_OK) {
        free(out);
        return rc;
    }
    in->heap = out;
    in->data = out;
    in->len = used;
    return KEEL_OK;
}

int keel__input_from_bytes(const char *name, const char *data, size_t len, keel__input *in,
                           keel_err *err)
{
    memset(in, 0, sizeof *in);
    if (is_gzip(data, len))
        return inflate_all(name, data, len, in, err);
    in->data = data;
    in->len = len;
    return KEEL_OK;
}

int keel__input_open_file(const char *path, keel__input *in, keel_err *err)
{
    memset(in, 0, sizeof *in);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return keel_errf(err, KEEL_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        close(fd);
        return keel_errf(err, KEEL_EIO, "%s: not a regular file%s%s", path, e ? ": " : "",
                         e ? strerror(e) : "");
    }
    if (st.st_size == 0) {
        close(fd);
        in->data = "";
        return KEEL_OK;
    }
    if ((uint64_t)st.st_size > KEEL_CSV_MAX_INPUT) {
        close(fd);
        return keel_errf(err, KEEL_ELIMIT, "%s: over %zu bytes", path, (size_t)KEEL_CSV_MAX_INPUT);
    }
    size_t size = (size_t)st.st_size;
    /* A small file is mapped in one go (one call instead of a page fault
     * per 64 KiB) and kept; a big one is faulted in as scanned and given
     * back behind the scan. */
    bool small = size <= KEEL_INPUT_SMALL;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE | (small ? MAP_POPULATE : 0), fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED)
        return keel_errf(err, KEEL_EIO, "%s: cannot map: %s", path, strerror(e));
    madvise(map, size, MADV_SEQUENTIAL);
    if (is_gzip(map, size)) {
        int rc = inflate_all(path, map, size, in, err);
        munmap(map, size);
        return rc;
    }
    in->map = map;
    in->map_len = size;
    in->keep = small;
    in->data = map;
    in->len = size;
    return KEEL_OK;
}

void keel__input_release(keel__input *in, size_t from, size_t to)
{
    if (in->map == NULL || in->keep)
        return;
    long ps = sysconf(_SC_PAGESIZE);
    size_t page = ps > 0 ? (size_t)ps : 4096;
    if (to > in->map_len)
        to = in->map_len;
    size_t start = (from + page - 1) & ~(page - 1);
    size_t end = to & ~(page - 1);
    if (end > start)
        madvise((char *)in->map + start, end - start, MADV_DONTNEED);
}

void keel__input_close(keel__input *in)
{
    if (in->map != NULL)
        munmap(in->map, in->map_len);
    free(in->heap);
    memset(in, 0, sizeof *in);
}
