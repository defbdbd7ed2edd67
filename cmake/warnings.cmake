# murmur_own_target(TARGET): warnings (and -Werror) for murmur's own code only;
# generated protobuf code and third-party headers are left alone.
function(murmur_own_target target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-missing-field-initializers>)
  if(MURMUR_WERROR)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
  endif()
endfunction()

# murmur_torch_pch(TARGET): with -DMURMUR_PCH=ON, precompile the ATen/torch
# headers the target's translation units include (see README for when it
# pays off).
function(murmur_torch_pch target)
  if(MURMUR_PCH)
    target_precompile_headers(${target} PRIVATE
      "$<$<COMPILE_LANGUAGE:CXX>:<ATen/ATen.h>>" "$<$<COMPILE_LANGUAGE:CXX>:<torch/library.h>>")
  endif()
endfunction()
