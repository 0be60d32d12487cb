#!/usr/bin/env bash
# Smoke test: etcd + kube-apiserver on loopback ports in a temp dir; prints
# the time until /readyz says ok and both RSS values, then kills both.
# Usage: ./smoke.sh "$(./build.sh | tail -n1)"
set -euo pipefail
B="$1"
d="$(mktemp -d /tmp/k8s-smoke.XXXXXX)"
openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
P=23791; P2=26443
t0=$(date +%s.%N)
"$B/etcd" --name smoke --listen-client-urls http://127.0.0.1:$P --advertise-client-urls http://127.0.0.1:$P \
  --listen-peer-urls http://127.0.0.1:$((P+1)) --initial-advertise-peer-urls http://127.0.0.1:$((P+1)) \
  --initial-cluster smoke=http://127.0.0.1:$((P+1)) --data-dir "$d/etcd" >"$d/etcd.log" 2>&1 &
EP=$!
"$B/kube-apiserver" --etcd-servers http://127.0.0.1:$P --cert-dir "$d/certs" \
  --service-account-issuer https://kubernetes.default.svc \
  --service-account-key-file "$d/sa.key" --service-account-signing-key-file "$d/sa.key" \
  --bind-address 127.0.0.1 --secure-port $P2 --authorization-mode RBAC >"$d/apiserver.log" 2>&1 &
AP=$!
echo "etcd pid $EP, kube-apiserver pid $AP, dir $d"
ok=""
for i in $(seq 1 600); do
  if out=$(curl -sk --max-time 1 https://127.0.0.1:$P2/readyz 2>/dev/null) && [ "$out" = ok ]; then ok=1; break; fi
  sleep 0.1
done
t1=$(date +%s.%N)
if [ -n "$ok" ]; then
  echo "readyz ok after $(echo "$t1 - $t0" | bc) s (both processes started at t0)"
else
  echo "readyz NOT ok after 60s"; tail -20 "$d/apiserver.log"
fi
curl -sk "https://127.0.0.1:$P2/readyz?verbose" | tail -3
curl -sk https://127.0.0.1:$P2/version | grep gitVersion || true
sleep 5
echo "RSS 5s after ready (KiB):"; ps -o pid,rss,comm -p $EP,$AP
kill $AP $EP; wait $AP $EP 2>/dev/null || true
echo "killed $AP $EP"; rm -rf "$d"
