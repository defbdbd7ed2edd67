#!/usr/bin/env python3
"""Offline checks of murmur's deployment files (no cluster, no container engine).

  deploy_manifest_check.py k8s FILE...      Kubernetes manifests
  deploy_manifest_check.py compose FILE     docker-compose.yml

A YAML parse plus the fields each kind requires and the references between
them (selectors match template labels, mounts name a volume, Service target
ports name a container port, a StatefulSet's serviceName is a headless
Service, GPU requests on the client DaemonSet, ...). It is the fallback where
kubeconform / `docker compose config` are not installed: it knows no full
schema, so unknown keys are caught only at the levels listed in KNOWN_KEYS.
Prints each problem and exits 1 if there is any.
"""
import sys

import yaml

problems = []


def need(cond, where, what):
    if not cond:
        problems.append(f"{where}: {what}")
    return cond


KNOWN_KEYS = {
    "top": {"apiVersion", "kind", "metadata", "spec"},
    "container": {"name", "image", "command", "args", "env", "ports", "resources",
                  "volumeMounts", "securityContext", "readinessProbe", "livenessProbe",
                  "startupProbe", "imagePullPolicy", "workingDir"},
    "pod": {"containers", "initContainers", "volumes", "securityContext", "nodeSelector",
            "tolerations", "restartPolicy", "terminationGracePeriodSeconds", "serviceAccountName",
            "affinity", "priorityClassName"},
}
API = {"Namespace": "v1", "Service": "v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1",
       "Deployment": "apps/v1", "Job": "batch/v1", "ConfigMap": "v1", "Secret": "v1"}


def check_keys(obj, allowed, where):
    extra = set(obj) - allowed
    need(not extra, where, f"unknown keys {sorted(extra)}")


def check_pod(pod_tmpl, where, claim_names=()):
    meta = pod_tmpl.get("metadata", {})
    spec = pod_tmpl.get("spec")
    if not need(isinstance(spec, dict), where, "template.spec missing"):
        return {}, [], None, []
    check_keys(spec, KNOWN_KEYS["pod"], where + ".spec")
    volumes = {v.get("name") for v in spec.get("volumes", [])}
    for v in spec.get("volumes", []):
        kinds = set(v) - {"name"}
        need(len(kinds) == 1, where, f"volume {v.get('name')} needs exactly one source, has {kinds}")
    containers = spec.get("containers")
    need(isinstance(containers, list) and containers, where, "no containers")
    ports = []
    for c in containers or []:
        cw = f"{where}.containers[{c.get('name')}]"
        check_keys(c, KNOWN_KEYS["container"], cw)
        need(c.get("name"), cw, "name missing")
        need(c.get("image"), cw, "image missing")
        for p in c.get("ports", []):
            need(isinstance(p.get("containerPort"), int), cw, f"port {p} has no integer containerPort")
            ports.append(p)
        for m in c.get("volumeMounts", []):
            need(m.get("name") in volumes or m.get("name") in claim_names, cw,
                 f"mount {m.get('name')} names no volume or claim template")
            need(str(m.get("mountPath", "")).startswith("/"), cw, "mountPath must be absolute")
        for e in c.get("env", []):
            need("name" in e and ("value" in e or "valueFrom" in e), cw, f"env entry {e} incomplete")
            need(not isinstance(e.get("value", ""), (int, float)), cw, f"env {e['name']}: value must be a string")
        res = c.get("resources", {})
        check_keys(res, {"requests", "limits"}, cw + ".resources")
        for probe in ("readinessProbe", "livenessProbe"):
            if probe in c:
                need(any(k in c[probe] for k in ("exec", "grpc", "httpGet", "tcpSocket")), cw,
                     f"{probe} has no handler")
    rp = spec.get("restartPolicy")
    return meta.get("labels", {}), ports, rp, containers or []


def check_selector(spec, labels, where):
    sel = spec.get("selector", {}).get("matchLabels")
    if need(isinstance(sel, dict) and sel, where, "selector.matchLabels missing"):
        for k, v in sel.items():
            need(labels.get(k) == v, where, f"selector {k}={v} does not match the template labels")


def check_k8s(files):
    docs = []
    for f in files:
        try:
            for d in yaml.safe_load_all(open(f)):
                if d is not None:
                    docs.append((f, d))
        except yaml.YAMLError as e:
            problems.append(f"{f}: YAML: {e}")
    services = {}
    workloads = []
    for f, d in docs:
        kind = d.get("kind")
        name = d.get("metadata", {}).get("name")
        where = f"{f}: {kind}/{name}"
        check_keys(d, KNOWN_KEYS["top"], where)
        need(kind in API, where, f"unexpected kind {kind}")
        need(d.get("apiVersion") == API.get(kind), where,
             f"apiVersion {d.get('apiVersion')} (expected {API.get(kind)})")
        need(name, where, "metadata.name missing")
        if kind != "Namespace":
            need(d.get("metadata", {}).get("namespace"), where, "metadata.namespace missing")
        spec = d.get("spec", {})
        if kind == "Service":
            need(spec.get("selector"), where, "selector missing")
            for p in spec.get("ports", []):
                need(isinstance(p.get("port"), int), where, f"port {p} has no integer port")
            need(spec.get("ports"), where, "ports missing")
            services[name] = (where, spec)
        elif kind in ("StatefulSet", "DaemonSet", "Deployment", "Job"):
            claims = [c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])]
            labels, ports, rp, containers = check_pod(spec.get("template", {}), where, claims)
            if kind != "Job":
                check_selector(spec, labels, where)
            workloads.append((where, kind, spec, labels, ports, containers))
            if kind == "StatefulSet":
                need(spec.get("serviceName"), where, "serviceName missing")
                need(spec.get("replicas") == 1, where, "the coordinator must have exactly one replica")
                need(claims, where, "no volumeClaimTemplates (the state must persist)")
                for c in spec.get("volumeClaimTemplates", []):
                    need(c.get("spec", {}).get("resources", {}).get("requests", {}).get("storage"),
                         where, f"claim {c['metadata']['name']} requests no storage")
            if kind == "DaemonSet":
                for c in containers:
                    lim = c.get("resources", {}).get("limits", {})
                    need("nvidia.com/gpu" in lim, where, f"container {c.get('name')}: no nvidia.com/gpu limit")
            if kind == "Job":
                need(rp in ("Never", "OnFailure"), where, f"restartPolicy {rp}: Never or OnFailure")
                need(isinstance(spec.get("completions"), int), where, "completions (N workers) missing")
    # References between objects.
    for where, kind, spec, labels, ports, _ in workloads:
        if kind == "StatefulSet":
            svc = services.get(spec.get("serviceName"))
            if need(svc, where, f"serviceName {spec.get('serviceName')} names no Service here"):
                need(svc[1].get("clusterIP") == "None", where, "serviceName must be a headless Service")
    for name, (where, spec) in services.items():
        sel = spec.get("selector", {})
        matching = [w for w in workloads if all(w[3].get(k) == v for k, v in sel.items())]
        if need(matching, where, f"selector {sel} matches no workload's pods"):
            port_names = {p.get("name") for w in matching for p in w[4]}
            port_nums = {p.get("containerPort") for w in matching for p in w[4]}
            for p in spec.get("ports", []):
                t = p.get("targetPort", p.get("port"))
                need(t in port_names or t in port_nums, where, f"targetPort {t} is no container port")
    return docs


def check_compose(path):
    d = yaml.safe_load(open(path))
    services = d.get("services", {})
    volumes = set((d.get("volumes") or {}).keys())
    need(services, path, "no services")
    for name, s in services.items():
        where = f"{path}: service {name}"
        need("image" in s or "build" in s, where, "neither image nor build")
        for v in s.get("volumes", []):
            src = v.split(":")[0]
            if not src.startswith((".", "/", "$")):
                need(src in volumes, where, f"volume {src} is not declared")
        for dep in s.get("depends_on") or {}:
            need(dep in services, where, f"depends_on {dep}: no such service")
    coord = services.get("coordinator", {})
    cmd = coord.get("command", [])
    for flag in ("--tls-cert", "--tls-key", "--tls-client-ca"):
        need(flag in cmd, path, f"coordinator without {flag}: mTLS must be on by default")
    need("--insecure" not in cmd, path, "coordinator runs --insecure")
    need(any("/var/lib/murmur" in v for v in coord.get("volumes", [])), path,
         "coordinator state dir is not on a volume")
    clients = [n for n, s in services.items() if "--coordinator" in (s.get("command") or [])]
    need(len(clients) >= 3, path, f"{len(clients)} clients (want 3)")
    policies = set()
    shards = set()
    for n in clients:
        c = services[n]["command"]
        for flag in ("--tls-ca", "--tls-cert", "--tls-key"):
            need(flag in c, path, f"{n} without {flag}")
        cert = c[c.index("--tls-cert") + 1] if "--tls-cert" in c else ""
        name = c[c.index("--name") + 1] if "--name" in c else ""
        need(name and f"client-{name}.pem" in cert, path, f"{n}: certificate {cert} is not for name {name}")
        policies.add(tuple(x for i, x in enumerate(c) if x.startswith("--policy.") or
                           (i and c[i - 1].startswith("--policy."))))
        shards.add(c[c.index("--data.client-index") + 1] if "--data.client-index" in c else None)
        need(services[n].get("depends_on", {}).get("coordinator", {}).get("condition") ==
             "service_healthy", path, f"{n} does not wait for a healthy coordinator")
    need(len(policies) == len(clients), path, "clients share a participation policy")
    need(len(shards) == len(clients) and None not in shards, path, "clients share a data shard")


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("k8s", "compose"):
        print(__doc__)
        return 2
    if sys.argv[1] == "k8s":
        docs = check_k8s(sys.argv[2:])
        summary = f"{len(docs)} Kubernetes objects"
    else:
        check_compose(sys.argv[2])
        summary = sys.argv[2]
    for p in problems:
        print("PROBLEM:", p)
    if problems:
        return 1
    print(f"ok: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
