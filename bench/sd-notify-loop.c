// The reference: libsystemd's own sd_notify(0, STATE) called from C in a tight loop, timed the
// same way as bench/worker.js times our library. libsystemd.so.0 is dlopen()ed, so no -dev
// package is needed. Usage: sd-notify-loop SECONDS-PER-ROUND ROUNDS MAX-CALLS STATE
// (NOTIFY_SOCKET in the environment). Prints one JSON line:
// {"rounds":[[calls,ns],...],"calls":ALL-INCLUDING-WARM-UP,"failed":N}.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BATCH 256

typedef int (*sd_notify_fn)(int, const char *);

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: sd-notify-loop SECONDS ROUNDS MAX-CALLS STATE\n");
    return 2;
  }
  long long budget = (long long)(atof(argv[1]) * 1e9);
  int rounds = atoi(argv[2]);
  long long max_calls = atoll(argv[3]);
  const char *state = argv[4];

  void *lib = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
  sd_notify_fn sd_notify = lib ? (sd_notify_fn)dlsym(lib, "sd_notify") : NULL;
  if (!sd_notify) {
    fprintf(stderr, "sd-notify-loop: %s\n", dlerror());
    return 1;
  }

  long long failed = 0, total = 0;
  // Warm-up: page in libsystemd and let the receiver settle.
  for (long long t0 = now_ns(); now_ns() - t0 < 200000000LL; total += BATCH)
    for (int i = 0; i < BATCH; i++) failed += sd_notify(0, state) <= 0;

  printf("{\"rounds\":[");
  for (int r = 0; r < rounds; r++) {
    long long calls = 0, t0 = now_ns(), elapsed;
    do {
      for (int i = 0; i < BATCH; i++) failed += sd_notify(0, state) <= 0;
      calls += BATCH;
      elapsed = now_ns() - t0;
    } while (elapsed < budget && calls < max_calls);
    total += calls;
    printf("%s[%lld,%lld]", r ? "," : "", calls, elapsed);
  }
  printf("],\"calls\":%lld,\"failed\":%lld}\n", total, failed);
  return 0;
}
