#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <string>

#include "../core/signals.h"
#include "../core/sys_error.h"

namespace mp {

void send_signal(pid_t pid, int sig) {
  if (kill(pid, sig) != 0) throw_errno("kill", "pid " + std::to_string(pid) + " signal " + std::to_string(sig));
}

pid_t set_parent_death_signal(int sig) {
  if (prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0) throw_errno("prctl", "PR_SET_PDEATHSIG");
  return getppid();
}

}  // namespace mp
