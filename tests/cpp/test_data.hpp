#pragma once
// The shared data folder for the C++ tests: $TOKENOPS_DATA_DIR, else ../shared/data beside the
// checkout (as the Python tests read it), and whole-file reads from it.
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace tokenops::test_data {

inline std::string data_dir() {
  if (const char* d = std::getenv("TOKENOPS_DATA_DIR")) return d;
  return std::string(TOKENOPS_SOURCE_DIR) + "/../shared/data";
}

/// The file's bytes; throws naming the file (and TOKENOPS_DATA_DIR) when it cannot be read.
inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path + " (set TOKENOPS_DATA_DIR)");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace tokenops::test_data
