// The barrier reference: libsystemd's own sd_notify_barrier() from C, N times, each timed.
// libsystemd.so.0 is dlopen()ed, so no -dev package is needed. Usage: barrier-loop N
// (NOTIFY_SOCKET in the environment). Prints one JSON line: {"ns":[...],"failed":N}.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef int (*sd_notify_barrier_fn)(int, uint64_t);

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: barrier-loop N\n");
    return 2;
  }
  int n = atoi(argv[1]);
  void *lib = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
  sd_notify_barrier_fn barrier = lib ? (sd_notify_barrier_fn)dlsym(lib, "sd_notify_barrier") : NULL;
  if (!barrier) {
    fprintf(stderr, "barrier-loop: %s\n", lib ? "no sd_notify_barrier (systemd < 246)" : dlerror());
    return 1;
  }
  long long failed = 0;
  for (int i = 0; i < 50; i++) failed += barrier(0, 5000000) <= 0;  // warm-up
  printf("{\"ns\":[");
  for (int i = 0; i < n; i++) {
    long long t0 = now_ns();
    failed += barrier(0, 5000000) <= 0;
    printf("%s%lld", i ? "," : "", now_ns() - t0);
  }
  printf("],\"failed\":%lld}\n", failed);
  return 0;
}
