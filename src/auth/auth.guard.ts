import { Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { AuthService } from './auth.service.js';
import type { AuthUser } from './auth-user.js';

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * `Authorization: Bearer <JWT>` or `X-API-Key: <key>`. Runs before interceptors, so the cache never answers
 * a request that would be refused: banned or deleted users and inactive keys get 401 even when a response
 * for them is cached.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(private readonly auth: AuthService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | string[] | undefined>; user?: AuthUser }>();
    const authorization = single(request.headers['authorization']);
    const apiKey = single(request.headers['x-api-key']);
    if (authorization !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (match?.[1] === undefined)
        throw new UnauthorizedException('Expected "Authorization: Bearer <token>"');
      request.user = await this.auth.authenticateToken(match[1]);
      return true;
    }
    if (apiKey !== undefined && apiKey !== '') {
      request.user = await this.auth.authenticateApiKey(apiKey);
      return true;
    }
    throw new UnauthorizedException('Authentication required');
  }
}
