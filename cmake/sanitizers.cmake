# -DMURMUR_SANITIZE=address,undefined builds everything with those sanitizers.
if(MURMUR_SANITIZE)
  message(STATUS "murmur: sanitizers ${MURMUR_SANITIZE}")
  add_compile_options(-fsanitize=${MURMUR_SANITIZE} -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${MURMUR_SANITIZE})
endif()
