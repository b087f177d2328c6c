// Signals: sending them, and asking the kernel for one when our parent dies.
#pragma once
#include <sys/types.h>

namespace mp {

// kill(2); throws SysError (ESRCH for a gone process, EPERM, EINVAL).
void send_signal(pid_t pid, int sig);

// Asks the kernel to deliver `sig` to this process when the thread that
// spawned it exits (PR_SET_PDEATHSIG; 0 clears). Returns getppid() read
// after the call: when it no longer equals the expected parent, the parent
// died before the request took effect and the caller must act itself.
pid_t set_parent_death_signal(int sig);

}  // namespace mp
