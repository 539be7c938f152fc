{
  "target_defaults": {
    "cflags_cc": ["-O3", "-std=c++17", "-fno-math-errno", "-fexceptions"],
    "cflags_cc!": ["-fno-exceptions"]
  },
  "targets": [
    {
      "target_name": "kernels_avx512",
      "type": "static_library",
      "sources": ["native/kernels_avx512.cc"],
      "cflags_cc": ["-mavx512f", "-mavx512vl", "-mfma", "-mavx2", "-fPIC"]
    },
    {
      "target_name": "kernels_avx512_l1",
      "type": "static_library",
      "sources": ["native/kernels_avx512_l1.cc"],
      "cflags_cc": ["-mavx512f", "-mavx512vl", "-mfma", "-mavx2", "-fPIC"]
    },
    {
      "target_name": "kernels_avx2",
      "type": "static_library",
      "sources": ["native/kernels_avx2.cc"],
      "cflags_cc": ["-mavx2", "-mfma", "-fPIC"]
    },
    {
      "target_name": "treegate_native",
      "sources": ["native/addon.cc", "native/products.cc", "native/weights.cc", "native/elementwise.cc", "native/args.cc", "native/kernels_generic.cc"],
      "dependencies": ["kernels_avx512", "kernels_avx512_l1", "kernels_avx2"]
    }
  ]
}
