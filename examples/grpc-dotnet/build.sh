#!/usr/bin/env bash
# Builds the server and the client into OUT (default: build/dotnet at the top of the repository):
#   OUT/bin/server/release/tether-grpc-server.dll, OUT/bin/client/release/tether-grpc-client.dll
# One restore and one build for both projects. The restore asks the machine's configured NuGet source and keeps the
# packages in ~/.nuget/packages; nothing is written into the source tree (obj/ and bin/ go under OUT too).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../build/dotnet}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
exec dotnet build "$here/grpc-dotnet.slnx" -c Release --nologo -v quiet -clp:NoSummary --artifacts-path "$out"
