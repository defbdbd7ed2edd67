# Use ccache for every compiler when it is installed (rebuilds after a clean
# take seconds instead of minutes). C++ units that reuse the precompiled
# LibTorch header (MURMUR_PCH) are cacheable only with the pch_defines and
# time_macros sloppiness (ccache manual, "Precompiled headers").
find_program(MURMUR_CCACHE ccache)
if(MURMUR_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER "${MURMUR_CCACHE}")
  set(CMAKE_CXX_COMPILER_LAUNCHER
      "${CMAKE_COMMAND};-E;env;CCACHE_SLOPPINESS=pch_defines,time_macros;${MURMUR_CCACHE}")
  set(CMAKE_CUDA_COMPILER_LAUNCHER "${MURMUR_CCACHE}")
endif()
