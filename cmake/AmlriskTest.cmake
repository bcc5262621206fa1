# amlrisk_test(NAME SOURCES... [LIBS libs...] [LABELS labels...] [TIMEOUT s])
# Builds one cmocka test executable and registers it with CTest. Tests labelled
# "services" need the running stack (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS from
# `scripts/stack env`) and fail, never skip, when it is missing.
function(amlrisk_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES} ${T_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE PkgConfig::CMOCKA ${T_LIBS})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "AMLRISK_FIXTURES=${PROJECT_SOURCE_DIR}/tests/fixtures;AMLRISK_SOURCE_DIR=${PROJECT_SOURCE_DIR};AMLRISK_BIN=${CMAKE_BINARY_DIR}/bin")
endfunction()
