#!/usr/bin/env bash
# Builds the app into OUT (default: build/dotnet at the top of the repository):
#   OUT/bin/aspnetcore/release/tether-aspnetcore.dll
# The app uses only the ASP.NET Core shared framework, so the restore needs no package; obj/ and bin/ go under OUT,
# nothing is written into the source tree.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../build/dotnet}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
exec dotnet build "$here/aspnetcore.csproj" -c Release --nologo -v quiet -clp:NoSummary --artifacts-path "$out"
