#!/usr/bin/env python3
"""gen_pipeline_dag.py DIR [STEPS [LAYERS]] — write one layered DAG of no-op
steps three ways into DIR: keel.yaml, Makefile and Snakefile (used by
bench_pipeline.sh).

Shape (defaults: 1,000 steps, 9 middle layers): one root step s000, the
middle layers (STEPS - 2 steps shared out as evenly as possible: 8 layers of
111 and one of 110), then one sink that needs every step of the last middle
layer. Steps are numbered s000, s001, ... in layer order. Step i of a middle
layer needs steps i, i+1 and 7i (mod the previous layer's width) of the
previous layer (2 or 3 distinct ones; the first middle layer needs only the
root). Every step of a layer is needed by some step of the next (fan-in); the
generator checks it. Deterministic: the same arguments give the same files.
Prints "steps N layers L edges E" on stdout.
"""
import os
import sys


def build(steps, layers):
    if steps < 3 or layers < 1 or steps - 2 < layers:
        raise SystemExit("gen_pipeline_dag: need STEPS >= LAYERS + 2 and LAYERS >= 1")
    middle = steps - 2
    widths = [middle // layers + (1 if k < middle % layers else 0) for k in range(layers)]
    names = []          # layer -> list of step names
    needs = {}          # step name -> list of needed step names
    n = 0

    def new_step(deps):
        nonlocal n
        name = "s%03d" % n
        n += 1
        needs[name] = deps
        return name

    names.append([new_step([])])
    for k, w in enumerate(widths):
        prev = names[-1]
        wp = len(prev)
        layer = []
        for i in range(w):
            idx = []
            for j in (i % wp, (i + 1) % wp, (i * 7) % wp):
                if j not in idx:
                    idx.append(j)
            layer.append(new_step([prev[j] for j in idx]))
        used = {d for s in layer for d in needs[s]}
        missing = [p for p in prev if p not in used]
        if missing:
            raise SystemExit("gen_pipeline_dag: layer %d leaves %s unneeded" % (k + 1, missing))
        names.append(layer)
    names.append([new_step(list(names[-1]))])
    assert n == steps
    return names, needs


def main():
    if len(sys.argv) < 2:
        raise SystemExit("usage: gen_pipeline_dag.py DIR [STEPS [LAYERS]]")
    out = sys.argv[1]
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    layers = int(sys.argv[3]) if len(sys.argv) > 3 else 9
    names, needs = build(steps, layers)
    order = [s for layer in names for s in layer]
    sink = order[-1]
    os.makedirs(out, exist_ok=True)

    with open(os.path.join(out, "keel.yaml"), "w") as f:
        f.write("pipeline: bench\nsteps:\n")
        for s in order:
            f.write("  %s:\n    run: \"true %s\"\n" % (s, s))
            if needs[s]:
                f.write("    needs: [%s]\n" % ", ".join(needs[s]))

    with open(os.path.join(out, "Makefile"), "w") as f:
        f.write(".PHONY: all %s\n\nall: %s\n\n" % (" ".join(order), sink))
        for s in order:
            f.write("%s:%s\n\t@true %s\n" % (s, "".join(" " + d for d in needs[s]), s))

    with open(os.path.join(out, "Snakefile"), "w") as f:
        f.write('rule all:\n    input: "done/%s"\n\n' % sink)
        for s in order:
            f.write("rule %s:\n" % s)
            if needs[s]:
                f.write("    input: %s\n" % ", ".join('"done/%s"' % d for d in needs[s]))
            f.write('    output: touch("done/%s")\n    shell: "true %s"\n\n' % (s, s))

    edges = sum(len(v) for v in needs.values())
    print("steps %d layers %d edges %d" % (len(order), len(names), edges))


if __name__ == "__main__":
    main()
