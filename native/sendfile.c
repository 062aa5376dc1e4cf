// The origin's one native helper: a response head and a slice of an open file written to a
// non-blocking TCP socket by the kernel (send(2) with MSG_MORE, then sendfile(2)), so a large media
// body never passes through the process's memory. Node has no sendfile; scripts/build-native.mjs
// compiles this at install, and src/server/sendfile.ts loads it (without it, bodies are copied).
//
// sendHeadAndFile(socketFd, head, fileFd, offset, count) -> bytes written (head first, then body),
// which may be fewer than head.length + count (the socket's buffer is full, or the file ended): the
// caller writes the rest through the socket's stream. A negative result is -errno when nothing could
// be written for a reason other than a full buffer.
#include <node_api.h>
#include <errno.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/sendfile.h>

static napi_value fail(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

static napi_value send_head_and_file(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5) return fail(env, "sendHeadAndFile takes 5 arguments");
  int32_t sock, file;
  int64_t offset, count;
  void *head;
  size_t head_length;
  bool is_buffer = false;
  if (napi_get_value_int32(env, argv[0], &sock) != napi_ok || sock < 0) return fail(env, "socketFd must be a descriptor");
  if (napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer || napi_get_buffer_info(env, argv[1], &head, &head_length) != napi_ok) return fail(env, "head must be a Buffer");
  if (napi_get_value_int32(env, argv[2], &file) != napi_ok || file < 0) return fail(env, "fileFd must be a descriptor");
  if (napi_get_value_int64(env, argv[3], &offset) != napi_ok || offset < 0) return fail(env, "offset must be a non-negative integer");
  if (napi_get_value_int64(env, argv[4], &count) != napi_ok || count < 0) return fail(env, "count must be a non-negative integer");

  int64_t written = 0;
  int error = 0;
  while ((size_t)written < head_length) {
    ssize_t n = send(sock, (char *)head + written, head_length - (size_t)written, MSG_NOSIGNAL | (count > 0 ? MSG_MORE : 0));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) error = errno;
      break;
    }
    written += n;
  }
  if ((size_t)written == head_length) {
    off_t at = (off_t)offset;
    int64_t left = count;
    while (left > 0) {
      ssize_t n = sendfile(sock, file, &at, (size_t)left);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) error = errno;
        break;
      }
      // The file ended before the slice did: the caller's read of the rest says how.
      if (n == 0) break;
      written += n;
      left -= n;
    }
  }
  napi_value result;
  napi_create_int64(env, written == 0 && error != 0 ? -error : written, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "sendHeadAndFile", NAPI_AUTO_LENGTH, send_head_and_file, NULL, &fn);
  napi_set_named_property(env, exports, "sendHeadAndFile", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
