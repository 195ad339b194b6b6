// What the test harnesses of servers (nats-server, etcd) share: a free loopback port, a process
// started with its output appended to a log file, and stopping it by its PID.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "weir/status.h"

namespace weir::testing {

// A TCP port on 127.0.0.1 that nothing listens on right now.
int FreePort();

// The start of the answer to "GET `path`" on 127.0.0.1:`port` (HTTP/1.0), status line
// included; empty if nothing answers.
std::string HttpGetLoopback(int port, const std::string& path);

// Starts `args` (args[0] searched in PATH) with stdout and stderr appended to `log`.
Result<pid_t> SpawnLogged(const std::vector<std::string>& args, const std::string& log);

// Whether the process has exited (reaped); *pid becomes -1 then.
bool Exited(pid_t* pid);

// Sends `sig` to *pid, waits for it to end and sets *pid to -1 (nothing if it is -1).
void SignalAndWait(pid_t* pid, int sig);

}  // namespace weir::testing
