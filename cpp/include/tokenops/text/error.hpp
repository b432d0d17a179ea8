#pragma once
// One small exception hierarchy for the whole core. The binding maps each type to a Python
// exception: InvalidArgument -> ValueError, NotFound -> KeyError, IoError -> OSError,
// Error -> RuntimeError. Messages say what was wrong and how to fix it.
#include <sstream>
#include <stdexcept>
#include <string>

namespace tokenops {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Bad input from the caller (malformed files, out-of-range values, invalid UTF-8...).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

/// A name, id or key that does not exist (unknown encoding, invalid token id...).
class NotFound : public Error {
 public:
  using Error::Error;
};

/// A file that cannot be opened or read.
class IoError : public Error {
 public:
  using Error::Error;
};

namespace detail {
template <class... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
}  // namespace detail

}  // namespace tokenops

/// Throw `ExcType` with a message built from the remaining arguments when `cond` is false.
#define TOKENOPS_CHECK(cond, ExcType, ...)                                  \
  do {                                                                      \
    if (!(cond)) throw ExcType(::tokenops::detail::concat(__VA_ARGS__));    \
  } while (0)
