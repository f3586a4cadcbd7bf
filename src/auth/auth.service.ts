import { Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { ApiKeysService } from '../api-keys/api-keys.service.js';
import { CacheService, userTag } from '../cache/index.js';
import type { Role } from '../users/user.model.js';
import { UsersService } from '../users/users.service.js';
import type { AuthUser } from './auth-user.js';
import { verifyPassword } from './password.js';
import type { LoginDto } from './dto/login.dto.js';
import type { RegisterDto } from './dto/register.dto.js';

interface TokenPayload {
  sub: number;
}

/** What authentication needs of a user on every request (never the password hash). */
interface Account {
  id: number;
  email: string;
  role: Role;
  banned: boolean;
}

/** Registration, login and request authentication. */
@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersService,
    private readonly apiKeys: ApiKeysService,
    @Inject(JwtService) private readonly jwt: JwtService,
    private readonly cache: CacheService,
  ) {}

  async register(dto: RegisterDto): Promise<{ accessToken: string }> {
    const user = await this.users.create({ ...dto, role: 'user' });
    return { accessToken: await this.issue(user.id) };
  }

  async login(dto: LoginDto): Promise<{ accessToken: string }> {
    const row = await this.users.findRowByEmail(dto.email);
    // The hash is computed even for an unknown email, so timing does not tell which emails exist.
    const ok = await verifyPassword(dto.password, row?.password_hash ?? DUMMY_HASH);
    if (row === undefined || !ok) throw new UnauthorizedException('Invalid email or password');
    if (row.banned) throw new UnauthorizedException('This account is banned');
    return { accessToken: await this.issue(row.id) };
  }

  async authenticateToken(token: string): Promise<AuthUser> {
    let payload: TokenPayload;
    try {
      payload = await this.jwt.verifyAsync<TokenPayload>(token);
    } catch {
      throw new UnauthorizedException('Invalid or expired token');
    }
    if (typeof payload.sub !== 'number') throw new UnauthorizedException('Invalid token');
    return this.activeUser(payload.sub, 'jwt');
  }

  async authenticateApiKey(raw: string): Promise<AuthUser> {
    const key = await this.apiKeys.findActiveByRawKey(raw);
    if (key === undefined) throw new UnauthorizedException('Invalid or inactive API key');
    const user = await this.activeUser(key.userId, 'api-key');
    await this.apiKeys.touch(key);
    return user;
  }

  private async activeUser(id: number, via: AuthUser['via']): Promise<AuthUser> {
    const account = await this.account(id);
    if (account === undefined) throw new UnauthorizedException('Unknown user');
    if (account.banned) throw new UnauthorizedException('This account is banned');
    return { id: account.id, email: account.email, role: account.role, via };
  }

  /**
   * The account behind a token or key, read once per `CACHE_DEFAULT_TTL` instead of on every request. Tagged like the
   * user's own entries, so `invalidateUser(id)` (every profile, role, ban and delete write) reaches it; an
   * unknown id (`undefined`) is never stored.
   */
  private account(id: number): Promise<Account | undefined> {
    return this.cache.getOrSet(
      ['account', id],
      async () => {
        const row = await this.users.findRow(id);
        if (row === undefined) return undefined;
        return { id: Number(row.id), email: row.email, role: row.role, banned: Boolean(row.banned) };
      },
      { namespace: 'auth', tags: [userTag(id)] },
    );
  }

  private issue(userId: number): Promise<string> {
    return this.jwt.signAsync({ sub: userId } satisfies TokenPayload);
  }
}

/** A valid scrypt hash of a random password, verified against when the email is unknown. */
const DUMMY_HASH = 'scrypt$16384$8$1$pL9XjTzB2FgDm_c31S1VZg$rrHYBhLpzKDOEK9feBcjfu4EwO4p39CqtxxFCDQzRPw';
