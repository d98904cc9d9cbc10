{
  "targets": [
    {
      "target_name": "koala_shim",
      "type": "shared_library",
      "sources": ["csrc/shim.c"],
      "cflags": ["-std=c11", "-Wall", "-Wextra", "-Werror", "-fPIC", "-fvisibility=hidden", "-D_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "ldflags": ["-ldl", "-lpthread"]
    }
  ]
}
