"""`netpolicy generate` at scale: a synthetic cluster and random intents, generated and proved.

    python benchmarks/intents_bench.py [NAMESPACES] [WORKLOADS_PER_NAMESPACE] [INTENTS]

Two pods per workload (live pods of a Deployment, distinguishable by `app`), random
workload-to-workload intents on 80/TCP, 8080/TCP or the named port `http`. Prints the pods,
policies, pairs compared per check, the time and the peak memory of the whole `api.generate`.
Defaults: 40 namespaces x 125 workloads (10,000 pods), 5,000 intents.
"""

from __future__ import annotations

import random
import resource
import sys
import time

from netpolicy import api
from netpolicy.generate.intents import Endpoint, Intent, IntentPort, Intents
from netpolicy.model import Cluster, ContainerPort, Namespace, OwnerRef, Pod, labels_of


def main(namespaces: int = 40, per_namespace: int = 125, intents: int = 5000) -> None:
    rng = random.Random(1)
    pods: list[Pod] = []
    workloads: list[tuple[str, str]] = []
    for n in range(namespaces):
        for w in range(per_namespace):
            workloads.append((f"ns{n}", f"w{w}"))
            for r in range(2):
                pods.append(
                    Pod(
                        f"ns{n}",
                        f"w{w}-{r}",
                        labels_of({"app": f"w{w}", "pod-template-hash": "h"}),
                        ports=(ContainerPort(8080, "TCP", "http"),),
                        owner=OwnerRef("Deployment", f"w{w}"),
                    )
                )
    cluster = Cluster(tuple(Namespace(f"ns{n}") for n in range(namespaces)), tuple(pods))
    wanted = tuple(
        Intent(
            Endpoint("workload", *rng.choice(workloads)),
            Endpoint("workload", *rng.choice(workloads)),
            (IntentPort("TCP", rng.choice([80, 8080, "http"])),),
            i + 1,
        )
        for i in range(intents)
    )
    governed = tuple(f"ns{n}" for n in range(namespaces))
    started = time.perf_counter()
    generated = api.generate(Intents(governed, wanted), cluster)
    elapsed = time.perf_counter() - started
    proof = generated.proof
    assert proof is not None and proof.ok, "the proof failed"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(
        f"{len(pods)} pods, {intents} intents -> {len(generated.policies)} policies, "
        f"{generated.rule_count} rules; pairs compared {proof.checks}; "
        f"{elapsed:.2f} s, peak {peak} MB"
    )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
