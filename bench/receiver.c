// The bench's stand-in for the service manager: binds an AF_UNIX datagram socket at argv[1] and
// drains it as fast as it can, until SIGTERM/SIGINT; then prints "<datagrams> <bytes>".
// Queue length: systemd raises net.unix.max_dgram_qlen to 512 at boot; a machine not booted with
// systemd keeps the kernel's 10, and any hiccup of the receiver then turns sends into EAGAIN. The
// setting is per network namespace and read when the socket is made, so, when allowed (root), the
// receiver moves into a fresh, empty network namespace and sets 512 there. Path sockets are found
// through the file system, so senders in the host namespace reach it all the same.
// Passed fds (systemd-notify's barrier pipe) are closed by the kernel, as no control buffer is
// given, which is what answers the barrier.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define BATCH 64

static volatile sig_atomic_t stop;

static const char kQlen[] = "/proc/sys/net/unix/max_dgram_qlen";

static int read_qlen(void) {
  char buf[32] = "";
  int fd = open(kQlen, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  return n > 0 ? atoi(buf) : -1;
}

// Returns the queue length sockets made from now on get.
static int raise_qlen(int want) {
  if (read_qlen() >= want || unshare(CLONE_NEWNET) < 0) return read_qlen();
  int fd = open(kQlen, O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%d", want);
    if (write(fd, buf, (size_t)len) < 0) perror("receiver: max_dgram_qlen");
    close(fd);
  }
  return read_qlen();
}

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

int main(int argc, char **argv) {
  if (argc != 2 || strlen(argv[1]) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
    fprintf(stderr, "usage: receiver SOCKET-PATH\n");
    return 2;
  }
  int qlen = raise_qlen(512);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  strcpy(sa.sun_path, argv[1]);
  unlink(sa.sun_path);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
    perror("receiver: socket/bind");
    return 1;
  }
  int size = 8 << 20;  // room for bursts; the queue length is still capped by max_dgram_qlen
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));

  // No SA_RESTART: the signal interrupts recvmmsg() and the loop sees `stop`.
  struct sigaction act = {.sa_handler = on_signal};
  sigaction(SIGTERM, &act, NULL);
  sigaction(SIGINT, &act, NULL);

  static char bufs[BATCH][4096];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  memset(msgs, 0, sizeof(msgs));
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = sizeof(bufs[i]);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  printf("ready %d\n", qlen);
  fflush(stdout);

  unsigned long long datagrams = 0, bytes = 0;
  while (!stop) {
    int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("receiver: recvmmsg");
      return 1;
    }
    datagrams += (unsigned)n;
    for (int i = 0; i < n; i++) bytes += msgs[i].msg_len;
  }
  // Whatever is still queued was sent too: count it.
  int n;
  while ((n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL)) > 0) {
    datagrams += (unsigned)n;
    for (int i = 0; i < n; i++) bytes += msgs[i].msg_len;
  }
  printf("%llu %llu\n", datagrams, bytes);
  close(fd);
  unlink(sa.sun_path);
  return 0;
}
