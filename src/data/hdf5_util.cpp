// HDF5 helpers: quiet error scopes, error-stack messages, attribute read/write with context.
#include "hdf5_util.h"

#include <vector>

#include "nf/core/error.h"

namespace nf::data::h5 {

QuietErrors::QuietErrors() {
  H5Eget_auto2(H5E_DEFAULT, &function_, &data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

QuietErrors::~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, function_, data_); }

namespace {

herr_t keep_innermost(unsigned depth, const H5E_error2_t* error, void* out) {
  // The upward walk starts at the innermost frame, where HDF5 detected the problem.
  if (depth == 0 && error->desc != nullptr) *static_cast<std::string*>(out) = error->desc;
  return 0;
}

}  // namespace

std::string last_error() {
  std::string message;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, keep_innermost, &message);
  if (message.empty()) return "unknown HDF5 error";
  // A failed system call's frame reads "file write failed: time = …, errno = 28, error message =
  // 'No space left on device', buf = …": keep what failed and the system's reason.
  const std::string marker = "error message = '";
  const size_t reason = message.find(marker);
  if (reason == std::string::npos) return message;
  const size_t begin = reason + marker.size();
  return message.substr(0, message.find(':')) + ": " + message.substr(begin, message.find('\'', begin) - begin);
}

hid_t check(hid_t id, const std::string& what, const std::string& path) {
  if (id < 0) throw IoError(what + " '" + path + "': " + last_error(), "check the path, permissions and free space");
  return id;
}

void check_status(herr_t status, const std::string& what, const std::string& path) {
  if (status < 0)
    throw IoError(what + " '" + path + "': " + last_error(), "check the path, permissions and free space");
}

void write_string_attribute(hid_t object, const char* name, const std::string& value, const std::string& path) {
  Datatype type(check(H5Tcopy(H5T_C_S1), "cannot create a string type for", path));
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  Dataspace space(check(H5Screate(H5S_SCALAR), "cannot create a dataspace for", path));
  Attribute attribute(check(H5Acreate2(object, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                            std::string("cannot create attribute '") + name + "' in", path));
  const char* text = value.c_str();
  check_status(H5Awrite(attribute.get(), type.get(), &text), std::string("cannot write attribute '") + name + "' in",
               path);
}

void write_int_attribute(hid_t object, const char* name, int64_t value, const std::string& path) {
  Dataspace space(check(H5Screate(H5S_SCALAR), "cannot create a dataspace for", path));
  Attribute attribute(check(H5Acreate2(object, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                            std::string("cannot create attribute '") + name + "' in", path));
  check_status(H5Awrite(attribute.get(), H5T_NATIVE_INT64, &value),
               std::string("cannot write attribute '") + name + "' in", path);
}

namespace {

Attribute open_attribute(hid_t object, const char* name, const std::string& path) {
  if (H5Aexists(object, name) <= 0) {
    throw DataError("shard '" + path + "' has no attribute '" + name + "'",
                    "the file is not an nf shard or is damaged; re-run nf-shard build");
  }
  return Attribute(
      check(H5Aopen(object, name, H5P_DEFAULT), std::string("cannot open attribute '") + name + "' in", path));
}

}  // namespace

std::string read_string_attribute(hid_t object, const char* name, const std::string& path) {
  const Attribute attribute = open_attribute(object, name, path);
  const Datatype stored(H5Aget_type(attribute.get()));
  if (H5Tget_class(stored.get()) != H5T_STRING) {
    throw DataError("attribute '" + std::string(name) + "' of '" + path + "' is not a string",
                    "the file is not an nf shard or is damaged; re-run nf-shard build");
  }
  if (H5Tis_variable_str(stored.get()) > 0) {
    Datatype memory(H5Tcopy(H5T_C_S1));
    H5Tset_size(memory.get(), H5T_VARIABLE);
    H5Tset_cset(memory.get(), H5Tget_cset(stored.get()));
    char* text = nullptr;
    check_status(H5Aread(attribute.get(), memory.get(), &text), "cannot read attribute of", path);
    std::string value = text ? text : "";
    H5free_memory(text);
    return value;
  }
  const size_t size = H5Tget_size(stored.get());
  std::vector<char> buffer(size + 1, '\0');
  check_status(H5Aread(attribute.get(), stored.get(), buffer.data()), "cannot read attribute of", path);
  return std::string(buffer.data());
}

int64_t read_int_attribute(hid_t object, const char* name, const std::string& path) {
  const Attribute attribute = open_attribute(object, name, path);
  const Datatype stored(H5Aget_type(attribute.get()));
  if (H5Tget_class(stored.get()) != H5T_INTEGER) {
    throw DataError("attribute '" + std::string(name) + "' of '" + path + "' is not an integer",
                    "the file is not an nf shard or is damaged; re-run nf-shard build");
  }
  int64_t value = 0;
  check_status(H5Aread(attribute.get(), H5T_NATIVE_INT64, &value), "cannot read attribute of", path);
  return value;
}

bool exists(hid_t location, const char* path) { return H5Lexists(location, path, H5P_DEFAULT) > 0; }

}  // namespace nf::data::h5
