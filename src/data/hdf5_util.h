// Private helpers over the HDF5 C API for the shard writer and reader: an owning handle per
// kind of HDF5 object (closed by its own H5?close), a scope that keeps HDF5 from printing its
// error stack, the innermost HDF5 error message for our own errors, and attribute read/write.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <utility>

namespace nf::data::h5 {

// Owns one hid_t and closes it with `Close` (H5Fclose, H5Dclose, ...). Move-only.
template <herr_t (*Close)(hid_t)>
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset() {
    if (id_ >= 0) Close(id_);
    id_ = H5I_INVALID_HID;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

using File = Handle<H5Fclose>;
using Dataset = Handle<H5Dclose>;
using Dataspace = Handle<H5Sclose>;
using Datatype = Handle<H5Tclose>;
using Group = Handle<H5Gclose>;
using Attribute = Handle<H5Aclose>;
using PropertyList = Handle<H5Pclose>;

// While alive, HDF5 does not print its error stack to stderr: our exceptions carry the message.
class QuietErrors {
 public:
  QuietErrors();
  ~QuietErrors();
  QuietErrors(const QuietErrors&) = delete;
  QuietErrors& operator=(const QuietErrors&) = delete;

 private:
  H5E_auto2_t function_ = nullptr;
  void* data_ = nullptr;
};

// The innermost message of HDF5's current error stack (e.g. "truncated file: eof = …"), or
// "unknown HDF5 error".
std::string last_error();

// Throws IoError("<what> '<path>': <last_error>") when `id` is negative; returns it otherwise.
hid_t check(hid_t id, const std::string& what, const std::string& path);
void check_status(herr_t status, const std::string& what, const std::string& path);

void write_string_attribute(hid_t object, const char* name, const std::string& value, const std::string& path);
void write_int_attribute(hid_t object, const char* name, int64_t value, const std::string& path);
// Read attributes; throw DataError naming the file and attribute when missing or mistyped.
std::string read_string_attribute(hid_t object, const char* name, const std::string& path);
int64_t read_int_attribute(hid_t object, const char* name, const std::string& path);

bool exists(hid_t location, const char* path);

}  // namespace nf::data::h5
