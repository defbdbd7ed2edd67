# Use ccache for every compiler when it is installed (rebuilds after a clean
# take seconds instead of minutes).
find_program(MURMUR_CCACHE ccache)
if(MURMUR_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER "${MURMUR_CCACHE}")
  set(CMAKE_CXX_COMPILER_LAUNCHER "${MURMUR_CCACHE}")
  set(CMAKE_CUDA_COMPILER_LAUNCHER "${MURMUR_CCACHE}")
endif()
