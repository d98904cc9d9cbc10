{
  "targets": [
    {
      "target_name": "koala_shim",
      "type": "shared_library",
      "sources": [
        "csrc/addr.c",
        "csrc/agent.c",
        "csrc/config.c",
        "csrc/encode.c",
        "csrc/fdtable.c",
        "csrc/helper.c",
        "csrc/hooks-io.c",
        "csrc/hooks-socket.c",
        "csrc/log.c",
        "csrc/real.c",
        "csrc/record.c",
        "csrc/replay.c",
        "csrc/ring.c",
        "csrc/writer.c"
      ],
      "cflags": ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-fvisibility=hidden", "-D_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "ldflags": ["-Wl,--version-script=<(module_root_dir)/csrc/koala-shim.map", "-Wl,-z,defs"],
      "libraries": ["-ldl", "-lpthread"]
    }
  ]
}
