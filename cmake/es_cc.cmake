# Declarative helpers in the style of abseil's absl_cc_library.
#
# es_cc_library(NAME foo SRCS a.cc DEPS bar)   -> static library `foo` (INTERFACE when no SRCS)
# es_cc_binary(NAME foo SRCS main.cc DEPS bar)
# es_cc_test(NAME foo_test SRCS t.cc DEPS foo LABELS unit)
# Every target sees the source root and the generated-proto root on its include path, so
# includes read "libs/storage/event_store.h" and "referral/v1/events.pb.h".

set(ES_PROTO_GEN_DIR ${PROJECT_BINARY_DIR}/proto_gen)

function(es_cc_library)
  cmake_parse_arguments(ES "" "NAME" "SRCS;DEPS" ${ARGN})
  if(ES_SRCS)
    add_library(${ES_NAME} STATIC ${ES_SRCS})
    target_include_directories(${ES_NAME} PUBLIC ${PROJECT_SOURCE_DIR} ${ES_PROTO_GEN_DIR})
    target_link_libraries(${ES_NAME} PUBLIC ${ES_DEPS})
  else()
    add_library(${ES_NAME} INTERFACE)
    target_include_directories(${ES_NAME} INTERFACE ${PROJECT_SOURCE_DIR} ${ES_PROTO_GEN_DIR})
    target_link_libraries(${ES_NAME} INTERFACE ${ES_DEPS})
  endif()
  add_library(es::${ES_NAME} ALIAS ${ES_NAME})
endfunction()

function(es_cc_binary)
  cmake_parse_arguments(ES "" "NAME;OUTPUT_NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ES_NAME} ${ES_SRCS})
  target_include_directories(${ES_NAME} PRIVATE ${PROJECT_SOURCE_DIR} ${ES_PROTO_GEN_DIR})
  target_link_libraries(${ES_NAME} PRIVATE ${ES_DEPS})
  if(ES_OUTPUT_NAME)
    set_target_properties(${ES_NAME} PROPERTIES OUTPUT_NAME ${ES_OUTPUT_NAME})
  endif()
  set_target_properties(${ES_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
endfunction()

# LABELS: unit (pure, fast), integration (RocksDB, mock Kafka, gRPC), system (several processes).
function(es_cc_test)
  cmake_parse_arguments(ES "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT ES_LABELS)
    set(ES_LABELS unit)
  endif()
  add_executable(${ES_NAME} ${ES_SRCS})
  target_include_directories(${ES_NAME} PRIVATE ${PROJECT_SOURCE_DIR} ${ES_PROTO_GEN_DIR})
  target_link_libraries(${ES_NAME} PRIVATE ${ES_DEPS} GTest::gmock GTest::gtest_main)
  set_target_properties(${ES_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  gtest_discover_tests(${ES_NAME}
    DISCOVERY_TIMEOUT 60
    TEST_PREFIX "${ES_NAME}."
    PROPERTIES LABELS "${ES_LABELS}" TIMEOUT 300
               ENVIRONMENT "PATHWAYS_BIN_DIR=${PROJECT_BINARY_DIR}/bin;PATHWAYS_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()

# Adds every listed subdirectory that exists, so areas can be added without editing a shared list.
function(es_add_existing_subdirectories)
  foreach(dir ${ARGN})
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/CMakeLists.txt)
      add_subdirectory(${dir})
    endif()
  endforeach()
endfunction()

# Adds every direct subdirectory that has a CMakeLists.txt.
function(es_add_all_subdirectories)
  file(GLOB children RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*/CMakeLists.txt)
  list(SORT children)
  foreach(child ${children})
    get_filename_component(dir ${child} DIRECTORY)
    add_subdirectory(${dir})
  endforeach()
endfunction()
