/*
 * keel/keel.h — the umbrella header: everything libkeel offers.
 */
#ifndef KEEL_KEEL_H
#define KEEL_KEEL_H

#include <keel/arena.h>
#include <keel/artifacts.h>
#include <keel/buf.h>
#include <keel/error.h>
#include <keel/json.h>
#include <keel/store.h>
#include <keel/tracking.h>
#include <keel/util.h>
#include <keel/workspace.h>

#endif
