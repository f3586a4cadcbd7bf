import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './commands.js';

/**
 * The packages a fresh application installs beside the tarball, at the versions this repository resolves for its
 * own devDependencies (so `--prefer-offline` finds them in the npm cache). `@nestjs/terminus` and `prom-client`
 * are left out on purpose: they are optional peers, and an application without them must install and run.
 */
export const CONSUMER_DEPENDENCIES = [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/config',
  '@nestjs/platform-express',
  'reflect-metadata',
  'rxjs',
  'typescript',
  '@types/node',
] as const;

/** The optional peers that the fresh application must not get. */
export const OPTIONAL_PEERS = ['@nestjs/terminus', 'prom-client'] as const;

function installedVersion(name: string): string {
  const manifest = JSON.parse(readFileSync(join(REPO, 'node_modules', name, 'package.json'), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

/** `package.json` of the fresh application: ESM, the tarball and {@link CONSUMER_DEPENDENCIES}. */
export function consumerPackageJson(packageName: string, tarball: string): string {
  const dependencies: Record<string, string> = { [packageName]: `file:${tarball}` };
  for (const name of CONSUMER_DEPENDENCIES) dependencies[name] = installedVersion(name);
  return JSON.stringify({ name: 'pack-consumer', private: true, type: 'module', dependencies }, null, 2);
}

/** The two ways a TypeScript application resolves the package; each gets its own tsconfig and output folder. */
export const RESOLUTIONS = {
  nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
  bundler: { module: 'esnext', moduleResolution: 'bundler' },
} as const;

export type Resolution = keyof typeof RESOLUTIONS;

/**
 * A strict tsconfig that type-checks the package's declaration files (`skipLibCheck: false`) and emits the
 * decorator metadata Nest's constructor injection needs.
 */
export function consumerTsconfig(resolution: Resolution): string {
  return JSON.stringify(
    {
      compilerOptions: {
        ...RESOLUTIONS[resolution],
        target: 'ES2022',
        lib: ['ES2023'],
        types: ['node'],
        strict: true,
        noUncheckedIndexedAccess: true,
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
        skipLibCheck: false,
        rootDir: 'src',
        outDir: `dist-${resolution}`,
      },
      include: ['src'],
    },
    null,
    2,
  );
}

/**
 * The application: the module from the environment (`CACHE_ENABLED`), one cached route, a write that invalidates
 * it through a constructor-injected `InvalidationService`, and an uncached route to wait on. It prints nothing
 * until it listens on `PORT`.
 */
export function consumerMain(packageName: string): string {
  return `import 'reflect-metadata';
import { Controller, Get, Module, Post } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { CacheModule, Cached, InvalidationService, type CachedOptions } from '${packageName}';

const itemsCache: CachedOptions = { namespace: 'items', expire: 60 };
let runs = 0;

@Controller()
class ItemsController {
  constructor(private readonly invalidation: InvalidationService) {}

  @Get('ready')
  ready(): string {
    return 'ok';
  }

  @Get('items')
  @Cached(itemsCache)
  items(): { runs: number } {
    runs += 1;
    return { runs };
  }

  @Post('items/invalidate')
  async invalidate(): Promise<void> {
    await this.invalidation.invalidateNamespace('items');
  }
}

@Module({
  imports: [ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true }), CacheModule.forRootAsync()],
  controllers: [ItemsController],
})
class AppModule {}

const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
await app.listen(Number(process.env['PORT']), '127.0.0.1');
`;
}
