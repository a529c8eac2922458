// Puts what the program declares for a stack onto the engine, under a test scope's names: its
// networks and volumes as declared, its containers through translate.ts, with local images in
// place of the declared ones (the simulator image built from simulator/, stand-ins for the rest).
import type Docker from "dockerode";
import type { RecordedResource } from "../../support/harness";
import { engineVersion, type Scope } from "./engine";
import { buildSimulator, buildStandIn, imageAliases, tail, type DeclaredStack, type SimulatorBuild } from "./stack";
import { createTranslated, translate, type Translation, type TranslateContext } from "./translate";

export interface Deployment {
  scope: Scope;
  stack: DeclaredStack;
  simulatorBuild?: SimulatorBuild;
  /** declared image reference → local image; the built image maps to undefined if it did not build */
  images: Map<string, string | undefined>;
  /** the local image standing in for each remote image reference, by the RemoteImage's pinned name */
  standIns: Map<string, string>;
  context: TranslateContext;
  translate(container: RecordedResource): Translation;
  create(container: RecordedResource, change?: (t: Translation) => void): Promise<Docker.Container>;
}

export async function prepare(scope: Scope, stack: DeclaredStack, opts: { simulatorImage: boolean }): Promise<Deployment> {
  const images = new Map<string, string | undefined>();
  const standIns = new Map<string, string>();
  for (const remote of stack.remoteImages) {
    const tag = await buildStandIn(scope, remote.inputs.name);
    standIns.set(remote.inputs.name, tag);
    for (const alias of imageAliases(remote)) images.set(alias, tag);
  }
  let simulatorBuild: SimulatorBuild | undefined;
  if (opts.simulatorImage) {
    simulatorBuild = await buildSimulator(scope, stack);
    for (const alias of imageAliases(stack.builtImage)) images.set(alias, simulatorBuild.ok ? simulatorBuild.tag : undefined);
  }
  const context: TranslateContext = {
    rename: (name) => scope.name(name),
    image(reference) {
      if (!images.has(reference)) throw new Error(`no local image for the declared image "${reference}"`);
      const local = images.get(reference);
      if (!local) throw new Error(`the simulator image did not build, so "${reference}" cannot be created:\n${tail(simulatorBuild?.log ?? "", 30)}`);
      return local;
    },
    labels: scope.labels,
    apiVersion: engineVersion?.apiVersion ?? "1.41",
  };

  for (const network of stack.networks) {
    const i = network.inputs;
    const known = new Set(["name", "driver", "internal", "attachable", "ipv6", "labels", "options", "checkDuplicate"]);
    const unknown = Object.keys(i).filter((k) => i[k] !== undefined && !known.has(k));
    if (unknown.length > 0) throw new Error(`network ${i.name} declares ${unknown.join(", ")}, which the engine tier does not create yet`);
    await scope.docker.createNetwork({
      Name: scope.name(i.name),
      Driver: i.driver ?? "bridge",
      Internal: i.internal ?? false,
      Attachable: i.attachable ?? false,
      EnableIPv6: i.ipv6 ?? false,
      Options: i.options ?? {},
      Labels: { ...labelMap(i.labels), ...scope.labels },
      CheckDuplicate: true,
    });
  }
  const declaredVolumes = new Set<string>();
  for (const volume of stack.volumes) {
    const i = volume.inputs;
    await scope.docker.createVolume({ Name: scope.name(i.name), Driver: i.driver ?? "local", DriverOpts: i.driverOpts ?? {}, Labels: { ...labelMap(i.labels), ...scope.labels } });
    declaredVolumes.add(i.name);
  }
  // A mount of a volume the program does not declare would be created by the engine on the fly,
  // unlabelled; fail instead, so nothing escapes cleanup and nothing undeclared passes.
  for (const c of stack.containers) {
    for (const m of c.inputs.mounts ?? []) {
      if (m.type === "volume" && !declaredVolumes.has(m.source)) throw new Error(`${c.inputs.name} mounts volume ${m.source}, which the program does not declare`);
    }
  }

  return {
    scope,
    stack,
    simulatorBuild,
    images,
    standIns,
    context,
    translate: (container) => translate(container.inputs, context),
    async create(container, change) {
      const t = translate(container.inputs, context);
      change?.(t);
      return createTranslated(scope.docker, t);
    },
  };
}

function labelMap(labels?: Array<{ label: string; value: string }>): Record<string, string> {
  return Object.fromEntries((labels ?? []).map((l) => [l.label, l.value]));
}
