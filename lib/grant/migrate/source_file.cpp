#include <grant/migrate/source_file.hpp>

#include <grant/error.hpp>
#include <grant/util/strings.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <system_error>

namespace grant::migrate {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void refuse(const fs::path& file, const std::string& what, const std::string& hint) {
  throw ConfigError("migration file " + util::in_quotes(file.filename().string()) + " " + what, file.string(), hint);
}

// What other than a regular file `file` is; returns only for a regular file (or one whose
// status cannot be read, which open() then reports).
void refuse_unless_regular(const fs::path& file) {
  std::error_code error;
  const auto link = fs::symlink_status(file, error);
  const auto status = fs::status(file, error);
  if (fs::is_symlink(link) && error == std::errc::too_many_symbolic_link_levels) {
    refuse(file, "is a symbolic link loop (" + error.message() + ")", "fix the link or remove it");
  }
  if (fs::is_symlink(link) && status.type() == fs::file_type::not_found) {
    std::error_code ignored;
    const auto target = fs::read_symlink(file, ignored);
    refuse(file, "is a symbolic link to " + util::in_quotes(target.string()) + ", which does not exist",
           "point the link at an existing file, or remove it");
  }
  switch (status.type()) {
  case fs::file_type::directory:
    refuse(
        file, "is a folder, not a file",
        "rename or move the folder: a name like <VERSION>_<name>.sql in the migrations folder is read as a migration");
  case fs::file_type::fifo:
    refuse(file, "is a named pipe (FIFO), not a file", "remove it or move it out of the migrations folder");
  case fs::file_type::socket:
    refuse(file, "is a socket, not a file", "remove it or move it out of the migrations folder");
  case fs::file_type::block:
  case fs::file_type::character:
    refuse(file, "is a device, not a file", "remove it or move it out of the migrations folder");
  default:
    break;
  }
}

class Descriptor {
public:
  explicit Descriptor(int fd) : m_fd(fd) {}
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
  }
  int get() const { return m_fd; }

private:
  int m_fd;
};

std::string cannot_read(int error) {
  return "cannot be read: " + std::generic_category().message(error);
}

// The deepest part of `path` that exists, when it is no folder (a file where a folder must be).
std::optional<fs::path> file_on_the_way(const fs::path& path) {
  std::error_code error;
  for (auto part = path; !part.empty(); part = part.parent_path()) {
    const auto status = fs::status(part, error);
    if (fs::exists(status)) {
      return fs::is_directory(status) ? std::nullopt : std::optional<fs::path>(part);
    }
    if (part == part.parent_path()) {
      break;
    }
  }
  return std::nullopt;
}

} // namespace

void create_migrations_folder(const fs::path& folder) {
  std::error_code error;
  fs::create_directories(folder, error);
  if (!error) {
    return;
  }
  const auto quoted = util::in_quotes(folder.string());
  if (const auto file = file_on_the_way(folder)) {
    throw ConfigError("cannot create folder " + quoted + ": " +
                          (*file == folder ? std::string("it is") : util::in_quotes(file->string()) + " is") +
                          " a file, not a folder",
                      file->string(), "move the file away, or choose another path");
  }
  throw ConfigError("cannot create folder " + quoted + ": " + error.message(), folder.string(),
                    "fix the path or its permissions");
}

std::vector<fs::path> list_migrations_folder(const fs::path& folder) {
  const auto quoted = util::in_quotes(folder.string());
  std::error_code error;
  const auto status = fs::status(folder, error);
  if (const auto file = file_on_the_way(folder); file && status.type() == fs::file_type::not_found) {
    throw ConfigError("migrations folder " + quoted + " cannot exist: " + util::in_quotes(file->string()) +
                          " is a file, not a folder",
                      folder.string(), "point \"migrations\" in the config at a folder");
  }
  if (status.type() == fs::file_type::not_found) {
    throw ConfigError("migrations folder " + quoted + " does not exist", folder.string(),
                      "create it (mkdir -p " + folder.string() + "), or set \"migrations\" in the config");
  }
  if (error) {
    throw ConfigError("migrations folder " + quoted + " cannot be read: " + error.message(), folder.string(),
                      "fix the path or its permissions, or set \"migrations\" in the config");
  }
  if (!fs::is_directory(status)) {
    throw ConfigError("migrations folder " + quoted + " is a file, not a folder", folder.string(),
                      "point \"migrations\" in the config at the folder that holds the .sql files");
  }
  std::vector<fs::path> out;
  fs::directory_iterator it(folder, error);
  for (; !error && it != fs::directory_iterator(); it.increment(error)) {
    out.push_back(it->path());
  }
  if (error) {
    throw ConfigError("migrations folder " + quoted + " cannot be read: " + error.message(), folder.string(),
                      "fix its permissions");
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_migration_source(const fs::path& file) {
  refuse_unless_regular(file);
  // O_NONBLOCK: a named pipe put there after the check above must not hang the run.
  const Descriptor fd(::open(file.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) {
    refuse(file, cannot_read(errno),
           "make it readable (chmod a+r " + file.string() + "), or move it out of the migrations folder");
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode)) {
    refuse(file, "is not a regular file", "remove it or move it out of the migrations folder");
  }
  std::string out;
  char buffer[65536];
  for (;;) {
    const auto got = ::read(fd.get(), buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0) {
      refuse(file, cannot_read(errno), "check the file and its permissions");
    }
    if (got == 0) {
      return out;
    }
    out.append(buffer, static_cast<std::size_t>(got));
  }
}

} // namespace grant::migrate
