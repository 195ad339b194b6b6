// How every command reports the error it stops on: one line on stderr, exit code 1.
#pragma once

#include <iostream>
#include <string_view>

#include "weir/status.h"

namespace weir::cli {

// Prints "weir <command>: <message>" ("weir: <message>" when `command` is empty); returns 1.
inline int Fail(std::string_view command, const Status& s) {
  std::cerr << "weir" << (command.empty() ? "" : " ") << command << ": " << s.message() << "\n";
  return 1;
}

}  // namespace weir::cli
