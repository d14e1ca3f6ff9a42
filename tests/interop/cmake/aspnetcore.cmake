# examples/aspnetcore (the seeds' minimal API) for tests/interop/aspnetcore_test.cc: built once into build/dotnet
# like the gRPC example (TETHER_DOTNET and TETHER_DOTNET_ARTIFACTS come from the CMakeLists.txt above). The app uses
# only the ASP.NET Core shared framework: no package restore, no network.
set(aspnetcore_dir ${CMAKE_SOURCE_DIR}/examples/aspnetcore)
set(aspnetcore_app ${TETHER_DOTNET_ARTIFACTS}/bin/aspnetcore/release/tether-aspnetcore.dll)
if(TETHER_DOTNET)
  file(GLOB aspnetcore_sources CONFIGURE_DEPENDS ${aspnetcore_dir}/*.cs ${aspnetcore_dir}/*.csproj)
  add_custom_command(
    OUTPUT ${aspnetcore_app}
    COMMAND bash ${aspnetcore_dir}/build.sh ${TETHER_DOTNET_ARTIFACTS}
    # dotnet leaves an up-to-date output untouched; touching it keeps this rule from running on every build.
    COMMAND ${CMAKE_COMMAND} -E touch ${aspnetcore_app}
    DEPENDS ${aspnetcore_sources} ${aspnetcore_dir}/build.sh
    COMMENT "dotnet build examples/aspnetcore"
    USES_TERMINAL)
  add_custom_target(tether_aspnetcore_example ALL DEPENDS ${aspnetcore_app})
  add_dependencies(tether_interop_tests tether_aspnetcore_example)
else()
  message(STATUS "dotnet not found: the ASP.NET Core interop tests will skip (and fail under CI=true)")
endif()
target_compile_definitions(tether_interop_tests PRIVATE TETHER_ASPNETCORE_APP="${aspnetcore_app}")
find_program(TETHER_CURL curl)
if(NOT TETHER_CURL)
  message(WARNING "curl not found: the ASP.NET Core interop tests that run curl will fail")
  set(TETHER_CURL curl)
endif()
target_compile_definitions(tether_interop_tests PRIVATE TETHER_CURL="${TETHER_CURL}")
