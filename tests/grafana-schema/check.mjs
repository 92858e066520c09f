// Type-checks every generated dashboard against Grafana's published dashboard types
// (@grafana/schema): each JSON file becomes a `Dashboard`-typed object literal, so tsc
// reports unknown keys (excess property checks) and mistyped values.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dashboards = join(here, "..", "..", "deploy", "grafana", "dashboards");
const out = join(here, "generated");
rmSync(out, { recursive: true, force: true });
mkdirSync(out);

const files = readdirSync(dashboards).filter((f) => f.endsWith(".json"));
if (files.length === 0) {
  console.error(`no dashboards in ${dashboards}`);
  process.exit(1);
}
for (const file of files) {
  const json = readFileSync(join(dashboards, file), "utf8");
  JSON.parse(json);
  // ThresholdsMode is a TypeScript string enum: JSON's "absolute" is its value, but tsc
  // only accepts the enum member in its place.
  const body = json.trim().replaceAll('"mode": "absolute"', '"mode": ThresholdsMode.Absolute');
  const ts = `import { ThresholdsMode, type Dashboard } from "@grafana/schema";\n\nconst dashboard: Dashboard = ${body};\n\nexport default dashboard;\n`;
  writeFileSync(join(out, file.replace(/\.json$/, ".ts")), ts);
}
writeFileSync(
  join(here, "tsconfig.json"),
  JSON.stringify(
    {
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: "nodenext",
        moduleResolution: "nodenext",
        target: "es2022",
        skipLibCheck: true,
      },
      include: ["generated/*.ts"],
    },
    null,
    2,
  ) + "\n",
);
try {
  execFileSync(join(here, "node_modules", ".bin", "tsc"), ["-p", here], { stdio: "inherit" });
} catch {
  console.error("dashboards do not match @grafana/schema's Dashboard type");
  process.exit(1);
}
console.log(`${files.length} dashboards match @grafana/schema's Dashboard type`);
