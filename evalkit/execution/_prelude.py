"""The first lines of every boxed process (before _wire.py and its script): leave root for good.

Run as `python -I -S -B -u -c <this + ...> LIMITS ...`, never imported. When the harness is root, bwrap
starts the box's process as root holding only CAP_SETUID and CAP_SETGID, without a user namespace
(one would map the box onto root on the host, the owner of every file bound into it). Before it reads
anything it did not bring, the process becomes LIMITS["uid"], the kernel's overflow uid: a uid that
owns nothing the box sees; the kernel then clears every capability, and no_new_privs (set by bwrap)
keeps any from coming back. A process that finds a capability left stops before doing anything else.
"""
import json
import os
import sys


def leave_root(uid):
    if uid is None:  # the harness is not root: bwrap's user namespace already made us its uid
        return
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    with open("/proc/self/status") as f:
        status = dict(line.split(":", 1) for line in f)
    if os.getresuid() != (uid,) * 3 or any(int(status[c], 16) for c in ("CapPrm", "CapEff", "CapAmb")):
        os._exit(125)


leave_root(json.loads(sys.argv[1]).get("uid"))
