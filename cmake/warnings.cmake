# murmur_own_target(TARGET): warnings (and -Werror) for murmur's own code only;
# generated protobuf code and third-party headers are left alone.
function(murmur_own_target target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-missing-field-initializers>)
  if(MURMUR_WERROR)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
  endif()
endfunction()
