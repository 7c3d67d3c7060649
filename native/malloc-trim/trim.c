/*
 * malloc_trim(0) for Node.js (glibc only). After a queue of millions of messages is purged,
 * the memory it used is free but stays resident: glibc returns heap pages to the OS only from
 * the top of the heap, and a few live allocations above the freed ones pin them. malloc_trim(0)
 * releases every free page in every arena (madvise), which is what warren calls after a large
 * release (src/lib/gc.ts). Elsewhere (musl, macOS) the function is a no-op returning false.
 */
#include <node_api.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

static napi_value Trim(napi_env env, napi_callback_info info) {
  (void)info;
  int released = 0;
#if defined(__GLIBC__)
  released = malloc_trim(0);
#endif
  napi_value result;
  napi_get_boolean(env, released != 0, &result);
  return result;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "trim", NAPI_AUTO_LENGTH, Trim, NULL, &fn);
  napi_set_named_property(env, exports, "trim", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
