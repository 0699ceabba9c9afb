/* LD_PRELOAD for a test's redis-server: its wall clock (clock_gettime CLOCK_REALTIME, gettimeofday) runs the
   seconds in the file named by CLUSTERGATE_TEST_CLOCK_STEP_FILE ahead of the real one, read at every call, as
   sitecustomize.py steps the actors' time.time(): one file steps the whole host's clock, as an NTP step does,
   while CLOCK_MONOTONIC runs on unchanged. Built by the test that uses it (tests/test_gate_deadlines.py). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static double step_s(void) {
    const char *path = getenv("CLUSTERGATE_TEST_CLOCK_STEP_FILE");
    double step = 0.0;
    FILE *fh = path ? fopen(path, "r") : NULL;
    if (fh == NULL) return 0.0;
    if (fscanf(fh, "%lf", &step) != 1) step = 0.0;
    fclose(fh);
    return step;
}

int clock_gettime(clockid_t id, struct timespec *ts) {
    static int (*real)(clockid_t, struct timespec *);
    if (real == NULL) real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    int rc = real(id, ts);
    if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
        long long ns = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec + (long long)(step_s() * 1e9);
        ts->tv_sec = ns / 1000000000LL;
        ts->tv_nsec = ns % 1000000000LL;
    }
    return rc;
}

int gettimeofday(struct timeval *tv, void *tz) {
    struct timespec ts;
    (void)tz;
    clock_gettime(CLOCK_REALTIME, &ts);
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
    return 0;
}
