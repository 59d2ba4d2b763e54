# Run by tests/linux_abi.rs in the guest: maps FILE with MAP_SHARED and
# plays ping-pong through it with a host process that maps the same file.
#
# Usage: python3.13 mmap_shared.py FILE ROUNDS
#
# Layout (little-endian u64 words): word 0 is the turn, word 1 the host's
# value, word 2 the guest's.  Round i: the host writes word 1 = i * 3 + 1,
# then the turn 2i + 1; the guest waits for that turn, checks word 1,
# writes word 2 = i * 5 + 2, then the turn 2i + 2.  No system call carries
# the data: each side sees the other's stores through its own mapping.
import mmap, os, struct, sys, time

path, rounds = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_RDWR)
m = mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
os.close(fd)


def word(i):
    return struct.unpack_from("<Q", m, 8 * i)[0]


deadline = time.monotonic() + 120
for i in range(rounds):
    while word(0) != 2 * i + 1:
        if time.monotonic() > deadline:
            print(f"timeout in round {i}: turn {word(0)}")
            sys.exit(1)
        time.sleep(0.0002)
    got = word(1)
    if got != i * 3 + 1:
        print(f"round {i}: host value {got}, expected {i * 3 + 1}")
        sys.exit(1)
    struct.pack_into("<Q", m, 16, i * 5 + 2)
    struct.pack_into("<Q", m, 0, 2 * i + 2)
# A last write the host checks in the file itself (read(2), not its mapping).
m[4000:4012] = b"guest-wrote!"
m.flush()
m.close()
print("guest done", rounds)
