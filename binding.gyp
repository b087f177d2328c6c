{
  "targets": [
    {
      "target_name": "multiproc",
      "sources": [
        "native/core/sys_error.cc",
        "native/core/wait_cell.cc",
        "native/core/async_waiter.cc",
        "native/core/tracker.cc",
        "native/core/tracker_pair.cc",
        "native/core/lock.cc",
        "native/core/ring.cc",
        "native/core/ring_repair.cc",
        "native/glue/errors.cc",
        "native/glue/segment.cc",
        "native/glue/semaphore.cc",
        "native/glue/ring.cc",
        "native/glue/ring_io.cc",
        "native/glue/layout.cc",
        "native/glue/bridge.cc",
        "native/glue/wait.cc",
        "native/glue/process.cc",
        "native/glue/tracker.cc",
        "native/glue/addon.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "MP_SOURCE_HASH=\"<!(node scripts/source-hash.cjs)\""
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["OS=='linux'", {
          "sources": [
            "native/linux/futex_linux.cc",
            "native/linux/shm_linux.cc",
            "native/linux/semaphore_posix.cc",
            "native/linux/signals_linux.cc",
            "native/linux/child_status_linux.cc",
            "native/linux/thread_linux.cc"
          ],
          "libraries": ["-lpthread"]
        }]
      ]
    }
  ]
}
