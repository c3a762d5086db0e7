/* The sandbox ("pause") process of the real node's pods: holds the pod's namespaces, reaps
   the children that the pod's PID namespace re-parents to it, and exits on SIGTERM or
   SIGINT. Built static so that its image needs no libraries. */
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int signal_number) { _exit(signal_number == SIGTERM ? 0 : 1); }

static void reap(int signal_number) {
  (void)signal_number;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction action = {0};
  action.sa_handler = stop;
  sigaction(SIGTERM, &action, NULL);
  sigaction(SIGINT, &action, NULL);
  action.sa_handler = reap;
  action.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGCHLD, &action, NULL);
  for (;;) pause();
}
