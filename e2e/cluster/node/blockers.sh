#!/usr/bin/env bash
# The blockers a real node meets on some machines, each with the setting that fixes it
# (docs/real-node.md, "Settings this machine kind needs"). Sourced by node-up.sh, which
# prints the first one found in the node's logs when the node cannot start; run on its
# own, it does the same for the logs it is given.
#
#   e2e/cluster/node/blockers.sh LOG...   prints "LINE\nfix: SETTING", or nothing (exit 1)

# Pairs: an extended regular expression matching the blocker's log line, the fix.
BLOCKERS=(
  "can't get final child's PID from pipe|failed to update /proc/self/oom_score_adj"
  "containerd CRI restrict_oom_score_adj = true and kubelet oomScoreAdj: 0 (runc may not lower oom_score_adj without CAP_SYS_RESOURCE)"
  "cgroup v1 support"
  "kubelet failCgroupV1: false and cgroupDriver: cgroupfs (the host has cgroup v1)"
  "running with swap on is not supported"
  "kubelet failSwapOn: false"
  "misconfiguration: kubelet cgroup driver"
  "kubelet cgroupDriver equal to containerd's runc SystemdCgroup (cgroupfs and false)"
)

# blocker LOGS...: the first known blocker found in the logs (its log line, at most 400
# characters) and the setting that fixes it; nothing and status 1 when none is found.
blocker() {
  local i line
  for ((i = 0; i < ${#BLOCKERS[@]}; i += 2)); do
    line=$(grep -h -m1 -E "${BLOCKERS[i]}" "$@" 2>/dev/null | head -n 1) || true
    if [[ -n "$line" ]]; then
      printf '%s\nfix: %s\n' "${line:0:400}" "${BLOCKERS[i + 1]}"
      return 0
    fi
  done
  return 1
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  blocker "$@"
fi
