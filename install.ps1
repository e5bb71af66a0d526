# Installs a prebuilt s3blob on Windows (x86_64):
#
#   irm https://github.com/s3blob/s3blob/releases/latest/download/install.ps1 | iex
#   & .\install.ps1 [-Version X] [-To DIR] [-BaseUrl URL]
#
#   -Version X     the release to install (default: the latest)
#   -To DIR        where to put s3blob.exe (default: $HOME\.local\bin); created if missing
#   -BaseUrl URL   where the release's files are (default: the project's GitHub release
#                  download URL for that version); it must serve SHA256SUMS and
#                  s3blob-VERSION-x86_64-pc-windows-msvc.zip
#
# Downloads the archive and SHA256SUMS and installs nothing when the archive's SHA-256 differs
# from its SHA256SUMS line. No administrator rights needed.
# Exit codes: 0 installed; 1 a download failed; 2 bad arguments or a platform without a
# prebuilt binary; 3 the checksum did not match (nothing installed).
param(
    [string]$Version = "",
    [string]$To = (Join-Path $HOME ".local\bin"),
    [string]$BaseUrl = ""
)
$ErrorActionPreference = "Stop"
$ProgressPreference = "SilentlyContinue"
$Repo = "s3blob/s3blob"

function Fail([int]$Code, [string]$Message) {
    [Console]::Error.WriteLine("s3blob-install: error: $Message")
    exit $Code
}

$arch = $env:PROCESSOR_ARCHITECTURE
if ($env:PROCESSOR_ARCHITEW6432) { $arch = $env:PROCESSOR_ARCHITEW6432 }
if ($arch -ne "AMD64") {
    Fail 2 "no prebuilt s3blob for Windows on '$arch' (x86_64 has one); build it with: cargo install --locked --git https://github.com/$Repo s3blob"
}
$target = "x86_64-pc-windows-msvc"
$Version = $Version.TrimStart("v")
if (-not $BaseUrl) {
    if ($Version) { $BaseUrl = "https://github.com/$Repo/releases/download/v$Version" }
    else { $BaseUrl = "https://github.com/$Repo/releases/latest/download" }
}
$BaseUrl = $BaseUrl.TrimEnd("/")

$tmp = Join-Path ([IO.Path]::GetTempPath()) ("s3blob-install-" + [Guid]::NewGuid())
New-Item -ItemType Directory -Path $tmp | Out-Null
try {
    try { $sums = (Invoke-WebRequest -UseBasicParsing -Uri "$BaseUrl/SHA256SUMS").Content }
    catch { Fail 1 "could not download $BaseUrl/SHA256SUMS: $($_.Exception.Message)" }
    if ($sums -is [byte[]]) { $sums = [Text.Encoding]::UTF8.GetString($sums) }
    $lines = $sums -split "`r?`n" | Where-Object { $_ -match '^([0-9a-f]{64})  \*?(s3blob-(.+)-x86_64-pc-windows-msvc\.zip)$' }
    $entry = $null
    foreach ($line in $lines) {
        $null = $line -match '^([0-9a-f]{64})  \*?(s3blob-(.+)-x86_64-pc-windows-msvc\.zip)$'
        if (-not $Version -or $Matches[3] -eq $Version) { $entry = $Matches; break }
    }
    if (-not $entry) { Fail 1 "$BaseUrl/SHA256SUMS has no line for $target (version '$Version')" }
    $want = $entry[1]; $archive = $entry[2]; $Version = $entry[3]

    Write-Host "s3blob-install: downloading $BaseUrl/$archive"
    $zip = Join-Path $tmp $archive
    try { Invoke-WebRequest -UseBasicParsing -Uri "$BaseUrl/$archive" -OutFile $zip }
    catch { Fail 1 "could not download $BaseUrl/${archive}: $($_.Exception.Message)" }
    $got = (Get-FileHash -Algorithm SHA256 -Path $zip).Hash.ToLowerInvariant()
    if ($got -ne $want) {
        Fail 3 "checksum mismatch for ${archive}: SHA256SUMS says $want, the download is $got; nothing installed"
    }
    Expand-Archive -Path $zip -DestinationPath $tmp
    $exe = Join-Path $tmp "s3blob-$Version-$target\s3blob.exe"
    if (-not (Test-Path $exe)) { Fail 1 "$archive holds no s3blob-$Version-$target\s3blob.exe" }
    New-Item -ItemType Directory -Force -Path $To | Out-Null
    $part = Join-Path $To ".s3blob.exe.tmp"
    Copy-Item -Force $exe $part
    Move-Item -Force $part (Join-Path $To "s3blob.exe")
    Write-Host "s3blob-install: installed s3blob $Version ($target) to $(Join-Path $To 's3blob.exe')"
    if (-not (($env:PATH -split ";") -contains $To)) {
        Write-Host "s3blob-install: $To is not on PATH; add it: `$env:PATH = `"$To;`$env:PATH`""
    }
}
finally {
    Remove-Item -Recurse -Force $tmp -ErrorAction SilentlyContinue
}
