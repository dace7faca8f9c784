/* The kernel's floor for one process snapshot, for BENCHMARKS.md: the
 * least work any reader must ask of /proc to print what `isolab tree --ns`
 * prints, done in plain C with no parsing, no allocation and no output.
 *
 *   proc_floor THREADS NS_LINKS CGROUP   e.g.  proc_floor 2 8 1
 *
 * For every PID: open /proc/PID, read stat and cmdline, readlink NS_LINKS
 * of /proc/PID/ns/{pid,mnt,net,ipc,uts,user,cgroup,time}, and (CGROUP=1)
 * read cgroup; PIDs are shared out between THREADS threads. Prints the
 * wall time in milliseconds (listing /proc included). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int pids[1 << 20], npids, proc_fd, threads, ns_links, cgroup;
static const char *ns[] = {"pid", "mnt", "net", "ipc", "uts", "user", "cgroup", "time"};

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void slurp(int dir, const char *name, char *buf) {
    int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (read(fd, buf, 65536) < 0)
        buf[0] = 0;
    close(fd);
}

static void *work(void *arg) {
    long me = (long)arg;
    char *buf = malloc(65536), name[32], link[64];
    for (int i = me; i < npids; i += threads) {
        snprintf(name, sizeof name, "%d", pids[i]);
        int dir = openat(proc_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
            continue;
        slurp(dir, "stat", buf);
        slurp(dir, "cmdline", buf);
        int nsdir = openat(dir, "ns", O_PATH | O_DIRECTORY | O_CLOEXEC);
        for (int k = 0; k < ns_links && nsdir >= 0; k++)
            if (readlinkat(nsdir, ns[k], link, sizeof link) < 0)
                link[0] = 0;
        if (nsdir >= 0)
            close(nsdir);
        if (cgroup)
            slurp(dir, "cgroup", buf);
        close(dir);
    }
    free(buf);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s THREADS NS_LINKS(0-8) CGROUP(0|1)\n", argv[0]);
        return 2;
    }
    threads = atoi(argv[1]);
    ns_links = atoi(argv[2]);
    cgroup = atoi(argv[3]);
    if (threads < 1 || threads > 64 || ns_links < 0 || ns_links > 8)
        return 2;
    double start = now_ms();
    DIR *d = opendir("/proc");
    if (!d)
        return 1;
    struct dirent *e;
    while ((e = readdir(d)) && npids < (1 << 20))
        if (e->d_name[0] >= '1' && e->d_name[0] <= '9')
            pids[npids++] = atoi(e->d_name);
    proc_fd = dirfd(d);
    pthread_t t[64];
    for (long i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, work, (void *)i);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    printf("%.1f\n", now_ms() - start);
    return 0;
}
