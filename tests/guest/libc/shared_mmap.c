/* MAP_SHARED memory across fork(): children write into anonymous shared
 * memory that their parent reads after waiting for them (stress-ng's
 * bogo-op counters, a work queue shared with worker processes), a shared
 * mapping grown with mremap stays shared, and writes through a shared file
 * mapping reach the file.  A private mapping stays private.  A robust,
 * process-shared mutex in shared memory whose owner (a child) exits
 * holding it is handed to the parent with EOWNERDEAD (the robust list
 * that the exiting process registered is walked at its exit): with the
 * argument "robust". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define KIDS 3
#define ADDS 100000

static void wait_all(int n)
{
    for (int i = 0; i < n; i++) {
        int st;
        if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            printf("child failed\n");
            exit(1);
        }
    }
}

static int robust(void);

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "robust"))
        return robust();
    /* Anonymous shared: per-child slots and one atomic counter. */
    long *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    long *priv = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED || priv == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    for (int k = 0; k < KIDS; k++) {
        pid_t pid = fork();
        if (pid == 0) {
            for (int i = 0; i < ADDS; i++) {
                __atomic_fetch_add(&sh[0], 1, __ATOMIC_RELAXED);
                sh[1 + k]++;
            }
            priv[0] = 42;
            _exit(0);
        }
    }
    wait_all(KIDS);
    printf("anon shared: total %ld slots %ld %ld %ld private %ld\n", sh[0], sh[1], sh[2], sh[3],
           priv[0]);

    /* mremap of a shared mapping (grown, maybe moved) keeps it shared. */
    sh[0] = 7;
    long *big = mremap(sh, 4096, 4 * 4096, MREMAP_MAYMOVE);
    if (big == MAP_FAILED) {
        perror("mremap");
        return 1;
    }
    if (fork() == 0) {
        /* (Not in the grown part: the shared object keeps its size, and
         * Linux gives SIGBUS there.) */
        big[0] += 1;
        _exit(0);
    }
    wait_all(1);
    printf("mremap shared: %ld\n", big[0]);

    /* A shared file mapping: stores reach the file. */
    char path[] = "/tmp/cranemu-shared-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || ftruncate(fd, 8192) != 0) {
        perror("file");
        return 1;
    }
    unlink(path);
    char *f = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (f == MAP_FAILED) {
        perror("mmap file");
        return 1;
    }
    if (fork() == 0) {
        strcpy(f + 4096, "written by the child");
        _exit(0);
    }
    wait_all(1);
    strcpy(f, "written by the parent");
    char buf[32] = {0};
    if (pread(fd, buf, sizeof buf - 1, 4096) < 0)
        perror("pread");
    printf("file: '%s'", buf);
    memset(buf, 0, sizeof buf);
    if (pread(fd, buf, sizeof buf - 1, 0) < 0)
        perror("pread");
    printf(" '%s'\n", buf);
    /* A writable shared mapping of a read-only descriptor is refused. */
    int ro = open("/proc/self/exe", O_RDONLY);
    void *bad = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0);
    printf("rw shared of read-only fd: %s\n", bad == MAP_FAILED ? "refused" : "allowed");
    return 0;
}

/* `shared_mmap robust`: apart, since qemu-riscv64 (7.2) does not walk
 * robust lists, and its parent would wait for the lock forever. */
static int robust(void)
{
    pthread_mutex_t *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                              -1, 0);
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(m, &ma);
    if (fork() == 0) {
        pthread_mutex_lock(m);
        _exit(0);
    }
    wait_all(1);
    int r = pthread_mutex_lock(m);
    if (r == EOWNERDEAD)
        pthread_mutex_consistent(m);
    printf("robust shared mutex after its owner exited: %s\n",
           r == EOWNERDEAD ? "EOWNERDEAD" : r == 0 ? "locked (owner death not seen)" : "error");
    pthread_mutex_unlock(m);
    return 0;
}
