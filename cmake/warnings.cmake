# murmur_own_target(TARGET): warnings (and -Werror) for murmur's own code only;
# generated protobuf code and third-party headers are left alone.
function(murmur_own_target target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-missing-field-initializers>)
  if(MURMUR_WERROR)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
  endif()
endfunction()

# murmur_torch_pch(TARGET [SKIP source...]): with -DMURMUR_PCH=ON (the
# default), TARGET's translation units reuse one precompiled header of the
# LibTorch headers murmur includes, built once for the whole tree (each torch
# TU here costs 30-60 s to parse them). SKIP names the target's sources that
# include no LibTorch (or have their own flags): loading the PCH would only
# slow them down. Everything sharing the PCH is compiled -fPIC so one .gch
# fits the shared kernel library, the static libraries and the executables.
function(murmur_torch_pch target)
  if(NOT MURMUR_PCH)
    return()
  endif()
  cmake_parse_arguments(PCH "" "" "SKIP" ${ARGN})
  if(NOT TARGET murmur_torch_pch_host)
    add_library(murmur_torch_pch_host OBJECT ${PROJECT_SOURCE_DIR}/cmake/torch_pch_host.cc)
    target_link_libraries(murmur_torch_pch_host PRIVATE ${TORCH_LIBRARIES} OpenMP::OpenMP_CXX)
    target_compile_options(murmur_torch_pch_host PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-fPIC>)
    murmur_own_target(murmur_torch_pch_host)
    target_precompile_headers(murmur_torch_pch_host PRIVATE
      "$<$<COMPILE_LANGUAGE:CXX>:<ATen/ATen.h>>"
      "$<$<COMPILE_LANGUAGE:CXX>:<torch/library.h>>"
      "$<$<COMPILE_LANGUAGE:CXX>:<torch/csrc/autograd/custom_function.h>>"
      "$<$<COMPILE_LANGUAGE:CXX>:<torch/nn/module.h>>"
      "$<$<COMPILE_LANGUAGE:CXX>:<torch/nn/modules/linear.h>>"
      "$<$<COMPILE_LANGUAGE:CXX>:<torch/optim/adam.h>>")
  endif()
  target_precompile_headers(${target} REUSE_FROM murmur_torch_pch_host)
  # -Winvalid-pch: a .gch that does not fit (flags, macros) is an error, not
  # a silent full parse. OpenMP: -fopenmp defines _REENTRANT, which the .gch
  # was built with.
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-fPIC -Winvalid-pch>)
  target_link_libraries(${target} PRIVATE OpenMP::OpenMP_CXX)
  get_target_property(sources ${target} SOURCES)
  foreach(src IN LISTS sources)
    if(src MATCHES "\\.cu$")
      list(APPEND PCH_SKIP ${src})
    endif()
  endforeach()
  if(PCH_SKIP)
    set_source_files_properties(${PCH_SKIP} PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
  endif()
endfunction()
