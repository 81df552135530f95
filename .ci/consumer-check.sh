#!/usr/bin/env bash
# The packages as a user meets them (issue 13): pack every package into a temporary feed, then, outside the repository
# and with a fresh NuGet cache, build and run apps that restore SafeRoute* from that feed only, and install and run the
# saferoute tool from it. Sizes are measured and checked. See .ci/consumer/README.md. Any failure exits non-zero.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/saferoute-consumer.XXXXXX)"
trap 'rm -rf "$work"' EXIT
feed="$work/feed"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

step() { echo; echo "== consumer check: $*"; }
fail() { echo "consumer check FAILED: $*" >&2; exit 1; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1000000 }'; }   # decimal megabytes, as the limits

version="$(dotnet msbuild "$repo/src/SafeRoute/SafeRoute.csproj" -getProperty:PackageVersion)"
step "pack every package (version $version, warnings are errors) into $feed"
dotnet pack "$repo/SafeRoute.sln" -c Release -o "$feed" -warnaserror -p:TreatWarningsAsErrors=true --nologo -v:q
for id in SafeRoute.Abstractions SafeRoute SafeRoute.Models.Default SafeRoute.Remote SafeRoute.Extensions.AI SafeRoute.Training SafeRoute.Cli SafeRoute.Cli.linux-x64; do
  pkg="$feed/$id.$version.nupkg"
  [ -f "$pkg" ] || fail "$id.$version.nupkg was not produced"
  nuspec="$(unzip -p "$pkg" '*.nuspec')"
  grep -q '<readme>README.md</readme>' <<<"$nuspec" || [ "$id" = SafeRoute.Cli.linux-x64 ] || fail "$id has no README"
  grep -Eq '<license type="(expression|file)">' <<<"$nuspec" || fail "$id has no licence"
  echo "  $id: $(mb "$(stat -c %s "$pkg")") MB"
done
# The seam (issue 15): the abstractions have no dependencies; the chat middleware needs no ONNX Runtime.
abstractions="$(unzip -p "$feed/SafeRoute.Abstractions.$version.nupkg" '*.nuspec')"
! grep -q '<dependency ' <<<"$abstractions" || fail "SafeRoute.Abstractions has dependencies"
middleware="$(unzip -p "$feed/SafeRoute.Extensions.AI.$version.nupkg" '*.nuspec')"
! grep -Eq 'id="(Microsoft.ML.OnnxRuntime[^"]*|SafeRoute)"' <<<"$middleware" || fail "SafeRoute.Extensions.AI depends on ONNX Runtime or the core"
grep -q 'id="SafeRoute.Abstractions"' <<<"$middleware" || fail "SafeRoute.Extensions.AI does not depend on SafeRoute.Abstractions"
echo "  SafeRoute.Abstractions: no dependencies; SafeRoute.Extensions.AI: abstractions only, no ONNX Runtime"
for id in SafeRoute.Models.Default SafeRoute.Cli SafeRoute.Cli.linux-x64; do
  licence="$(unzip -p "$feed/$id.$version.nupkg" LICENSE.txt 2>/dev/null || true)"
  grep -qi "non-commercial" <<<"$licence" || fail "$id's licence file does not say the bundled models are for non-commercial use"
done
listing="$(unzip -l "$feed/SafeRoute.Models.Default.$version.nupkg")"
grep -q "models/default/MODEL_CARD.md" <<<"$listing" || fail "the model card is not packed beside the models"

# From here on a fresh package cache, as on a new user's machine: nothing from this machine's earlier restores (and no
# stale SafeRoute package of the same version). The pack above used the usual cache, so the repository's own restore
# state stays valid.
export NUGET_PACKAGES="$work/packages"

# nuget.config: SafeRoute* only from the feed, everything else from nuget.org (package source mapping).
write_nuget_config() {
  cat >"$1/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="saferoute-local" value="$feed" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
  <packageSourceMapping>
    <packageSource key="saferoute-local"><package pattern="SafeRoute" /><package pattern="SafeRoute.*" /></packageSource>
    <packageSource key="nuget.org"><package pattern="*" /></packageSource>
  </packageSourceMapping>
</configuration>
XML
}

app() { # app <name>: copy .ci/consumer/<name> outside the repository, with the nuget.config
  mkdir -p "$work/$1"
  cp "$repo/.ci/consumer/$1"/* "$work/$1/"
  write_nuget_config "$work/$1"
  echo "$work/$1"
}

# Restores from nuget.org with an empty cache download a lot (ONNX Runtime, its GPU package); NuGet retries single
# requests itself, and a restore that still fails is tried twice more after a pause, so a network stall is not
# reported as a broken package. Any failure after the restore is real.
restore() { # restore <dir>
  local attempt
  for attempt in 1 2 3; do
    (cd "$1" && dotnet restore -p:SafeRouteVersion="$version" -v:q) && return 0
    echo "  restore in $1 failed (try $attempt of 3)" >&2
    sleep $((attempt * 15))
  done
  fail "the consumer app in $1 did not restore (three tries)"
}

step "CPU app: SafeRoute + SafeRoute.Models.Default, services.AddSafeRoute() with no settings"
cpu="$(app cpu)"
restore "$cpu"
(cd "$cpu" && dotnet run -c Release -p:SafeRouteVersion="$version") || fail "the CPU consumer app failed"

step "the README's Quick start, compiled and run as written against the packages"
quickstart="$(app quickstart)"
sed -n '/<!-- quickstart:begin -->/,/<!-- quickstart:end -->/p' "$repo/README.md" | sed '1,2d;$d' | sed '$d' >"$quickstart/Program.cs"
grep -q 'RoutedSafetyGuard' "$quickstart/Program.cs" || fail "the Quick start block was not found in README.md"
restore "$quickstart"
(cd "$quickstart" && dotnet run -c Release -p:SafeRouteVersion="$version") || fail "the README's Quick start does not run as written"

step "CPU app published for linux-x64 (the README's advice)"
(cd "$cpu" && dotnet publish -c Release -r linux-x64 --self-contained false -p:SafeRouteVersion="$version" -o "$work/publish" --nologo -v:q)
[ -f "$work/publish/saferoute-models/default/MODEL_CARD.md" ] || fail "the model card is not beside the models in the published app"
published=$(du -sb "$work/publish" | cut -f1)
echo "  published app: $(mb "$published") MB"
# Limits: issue 13's budget for everything but the default models (80 MB app / 60 MB tool with the 13.6 MB v1 models:
# 66.4 / 46.4 MB) plus issue 16's budget for the default models (64 MB, of which the v2 pair uses 54.6).
[ "$published" -le $((130 * 1000000)) ] || fail "the published app is $(mb "$published") MB (limit 130 MB: 66 MB + 64 MB of default models)"
(cd "$work/publish" && ./ConsumerCheck) || fail "the published app failed"
(cd "$cpu" && dotnet publish -c Release -p:SafeRouteVersion="$version" -o "$work/publish-any" --nologo -v:q)
echo "  for comparison, published without a runtime identifier: $(mb "$(du -sb "$work/publish-any" | cut -f1)") MB"

step "GPU app: SafeRoute + Microsoft.ML.OnnxRuntime.Gpu instead of the CPU package (restore and compile only)"
gpu="$(app gpu)"
restore "$gpu"
(cd "$gpu" && dotnet build -c Release -p:SafeRouteVersion="$version" --nologo -v:q) || fail "the GPU consumer app did not restore and compile"
if grep -q '"Microsoft.ML.OnnxRuntime/' "$gpu/obj/project.assets.json"; then
  fail "the GPU app pulled in the CPU package Microsoft.ML.OnnxRuntime"
fi

step "app without a native ONNX Runtime: a clear error, not a crash"
nonative="$(app nonative)"
restore "$nonative"
(cd "$nonative" && dotnet run -c Release -p:SafeRouteVersion="$version" -- "$repo/models/default/small") || fail "no clear error without a native runtime"

step "the saferoute tool from the feed"
tool_installed=0
for attempt in 1 2 3; do
  dotnet tool install SafeRoute.Cli --version "$version" --tool-path "$work/tools" --add-source "$feed" && { tool_installed=1; break; }
  echo "  tool install failed (try $attempt of 3)" >&2
  sleep $((attempt * 15))
done
[ "$tool_installed" -eq 1 ] || fail "the saferoute tool did not install from the feed (three tries)"
rc=0
"$work/tools/saferoute" classify "How do I water a cactus?" "Write a poem about autumn leaves." || rc=$?
[ "$rc" -le 1 ] || fail "saferoute classify exited $rc"
store="$work/tools/.store/saferoute.cli/$version"
payload=$(du -sb --exclude='*.nupkg' "$store" | cut -f1)
ondisk=$(du -sb "$work/tools" | cut -f1)
echo "  tool installed: $(mb "$payload") MB of files (plus NuGet's copies of the package: $(mb "$ondisk") MB on disk)"
[ "$payload" -le $((110 * 1000000)) ] || fail "the tool installs $(mb "$payload") MB of files (limit 110 MB: 46 MB + 64 MB of default models)"

echo
echo "consumer check: all passed"
