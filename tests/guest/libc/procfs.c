/* /proc files that must describe the guest: /proc/self/maps lists guest
 * mappings with guest addresses (code r-x, data rw-, the stack rw- and
 * [stack]), /proc/cpuinfo describes riscv64 harts, /proc/self/auxv is the
 * guest's auxiliary vector. Prints only facts that hold on any run. */
#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

int global_data = 42;

struct range {
    unsigned long start, end;
    char perms[5];
    char name[256];
};

static struct range ranges[512];
static int nranges;

static int read_maps(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    nranges = 0;
    while (fgets(line, sizeof line, f) && nranges < 512) {
        struct range *r = &ranges[nranges];
        unsigned long off, ino;
        int n = 0;
        r->name[0] = 0;
        if (sscanf(line, "%lx-%lx %4s %lx %*x:%*x %lu %n", &r->start, &r->end,
                   r->perms, &off, &ino, &n) < 5)
            return -2;
        sscanf(line + n, "%255s", r->name);
        nranges++;
    }
    fclose(f);
    return nranges;
}

static struct range *find(unsigned long a) {
    for (int i = 0; i < nranges; i++)
        if (ranges[i].start <= a && a < ranges[i].end)
            return &ranges[i];
    return NULL;
}

static void check(const char *what, void *p, const char *perms, const char *name) {
    struct range *r = find((unsigned long)p);
    if (!r) {
        printf("%s: not in maps\n", what);
        return;
    }
    printf("%s: in maps, perms %.3s ok: %s", what, r->perms,
           strncmp(r->perms, perms, 3) == 0 ? "yes" : "no");
    if (name)
        printf(", %s: %s", name, strcmp(r->name, name) == 0 ? "yes" : "no");
    printf("\n");
}

int main(void) {
    int local = 1;
    char path[64];

    /* The lowest free descriptor is 3, as under Linux: the emulator holds
     * none of its own (its copy of the program once stayed open as 3). */
    int fd = open("/dev/null", O_RDONLY);
    printf("first free descriptor: %d\n", fd);
    close(fd);
    int n = read_maps("/proc/self/maps");
    printf("maps lines > 3: %s\n", n > 3 ? "yes" : "no");
    /* The program's code maps its file: the path is /proc/self/exe's. */
    char exe[256];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[len > 0 ? len : 0] = 0;
    check("main", (void *)main, "r-x", NULL);
    struct range *code = find((unsigned long)main);
    printf("main's mapping names the program: %s\n",
           code && len > 0 && strcmp(code->name, exe) == 0 ? "yes" : "no");
    check("global", &global_data, "rw-", NULL);
    check("local", &local, "rw-", "[stack]");
    int high = 0, sorted = 1;
    for (int i = 0; i < nranges; i++) {
        if (ranges[i].end > (1UL << 38))
            high = 1;
        if (i > 0 && ranges[i].start < ranges[i - 1].end)
            sorted = 0;
    }
    printf("all below 2^38: %s\n", high ? "no" : "yes");
    printf("in address order: %s\n", sorted ? "yes" : "no");
    snprintf(path, sizeof path, "/proc/%d/maps", (int)getpid());
    int n2 = read_maps(path);
    printf("/proc/PID/maps readable: %s\n", n2 > 3 ? "yes" : "no");
    check("main via pid", (void *)main, "r-x", NULL);

    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    int isa = 0, mmu = 0, procs = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "processor", 9) == 0)
            procs++;
        if (strncmp(line, "isa", 3) == 0) {
            char *v = strchr(line, ':');
            if (v && strncmp(v + 2, "rv64", 4) == 0)
                isa++;
        }
        if (strncmp(line, "mmu", 3) == 0)
            mmu++;
    }
    if (f)
        fclose(f);
    printf("isa starts with rv64: %s\n", isa > 0 && isa == procs ? "yes" : "no");
    printf("mmu present: %s\n", mmu > 0 ? "yes" : "no");

    f = fopen("/proc/self/auxv", "rb");
    Elf64_auxv_t av;
    unsigned long pagesz = 0, entry = 0;
    int null_seen = 0;
    while (f && fread(&av, sizeof av, 1, f) == 1) {
        if (av.a_type == AT_PAGESZ)
            pagesz = av.a_un.a_val;
        if (av.a_type == AT_ENTRY)
            entry = av.a_un.a_val;
        if (av.a_type == AT_NULL) {
            null_seen = 1;
            break;
        }
    }
    if (f)
        fclose(f);
    printf("AT_PAGESZ = %lu\n", pagesz);
    printf("AT_ENTRY matches getauxval: %s\n",
           entry != 0 && entry == getauxval(AT_ENTRY) ? "yes" : "no");
    printf("AT_NULL ends it: %s\n", null_seen ? "yes" : "no");
    return 0;
}
