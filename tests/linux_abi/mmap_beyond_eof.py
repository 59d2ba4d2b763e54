# Run by tests/linux_abi.rs in the guest: a shared file mapping whose file
# is then truncated to nothing. A system call given a buffer in the
# mapping fails with EFAULT; touching the mapping raises SIGBUS, which
# faulthandler (a C-level signal handler of the guest) reports before the
# process dies of it.
import errno, faulthandler, mmap, os, sys

path = sys.argv[1]
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
os.ftruncate(fd, 8192)
m = mmap.mmap(fd, 8192, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
m[0:5] = b"hello"
print("before truncation:", bytes(m[0:5]))
os.ftruncate(fd, 0)
out = os.open(path + ".out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
try:
    os.write(out, memoryview(m)[100:200])
    print("write from the mapping: succeeded")
except OSError as e:
    print("write from the mapping:", errno.errorcode[e.errno])
faulthandler.enable()
print("touching the mapping", flush=True)
print(m[100])
print("not reached")
