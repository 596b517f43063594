#pragma once

// A temporary directory removed with its content at the end of its scope.

#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>

namespace tether::test {

class temp_dir {
public:
  temp_dir() {
    auto base = std::filesystem::temp_directory_path();
    std::random_device rd;
    for (int attempt = 0; attempt < 100 && path_.empty(); ++attempt) {
      auto p = base / ("tether-test-" + std::to_string(rd()));
      if (std::filesystem::create_directory(p))
        path_ = p.string();
    }
    if (path_.empty())
      throw std::runtime_error("cannot create a temporary directory");
  }

  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const noexcept { return path_; }

private:
  std::string path_;
};

} // namespace tether::test
