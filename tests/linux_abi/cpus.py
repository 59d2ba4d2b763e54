# Run by tests/linux_abi.rs in the guest and on the host: what a program
# learns about the machine's CPUs, one fact per line.
import os

def cpus_in(text):
    out = []
    for part in text.strip().split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out

base = "/sys/devices/system/cpu"
for name in ("online", "possible", "present"):
    with open(f"{base}/{name}") as f:
        print(name, cpus_in(f.read()))
print("cpuN", sorted(int(d[3:]) for d in os.listdir(base) if d.startswith("cpu") and d[3:].isdigit()))
print("cpu_count", os.cpu_count())
print("sched_getaffinity", sorted(os.sched_getaffinity(0)))
with open("/proc/cpuinfo") as f:
    print("cpuinfo processors", [int(l.split(":")[1]) for l in f if l.startswith("processor")])
